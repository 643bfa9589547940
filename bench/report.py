"""A run's outputs: `latest.json`, `latest.md`, and PNG charts."""

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.env import tree_label
from bench.profile import markdown as profile_markdown


def num(value: Any, digits: int = 1) -> str:
    """A figure for a table: thousands separated, `digits` decimals for a float; `n/a` for None."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def results_write(result: dict[str, Any], out: Path) -> list[Path]:
    """Write the JSON, the Markdown and the charts of one run; return the paths."""
    paths = [out / "latest.json", out / "latest.md"]
    paths[0].write_text(json.dumps(result, indent=2) + "\n")
    paths[1].write_text(markdown(result))
    if result["configs"]:
        paths.append(_ratio_chart(result, out / "latest.png"))
    if result.get("sweep"):
        paths.append(_scaling_chart(result, out / "scaling.png"))
    return paths


def _configs_tables(configs: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "| config | req/s | x baseline | p50 ms | p99 ms | CPU ms/req | CPU x baseline "
        "| DB+Redis CPU ms/req | SQL/req | Redis/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c in configs.items():
        lines.append(
            f"| {name} | {num(c['rps'], 0)} | {num(c['ratio_to_baseline'], 2)} "
            f"| {num(c['p50_ms'], 2)} | {num(c['p99_ms'], 2)} "
            f"| {num(c['cpu_ms_per_request'], 3)} | {num(c['cpu_ratio_to_baseline'], 2)} "
            f"| {num(c['backend_cpu_ms_per_request'], 3)} "
            f"| {num(c['sql_per_request'], 2)} | {num(c['redis_per_request'], 2)} "
            f"| {c['errors']} |"
        )
    lines += [
        "",
        "| config | project | what runs | revocation | users | credential bytes/req |",
        "|---|---|---|---|---:|---:|",
    ]
    for name, c in configs.items():
        lines.append(
            f"| {name} | `{c['project']}` | {c['description']} | {c['revocation']} "
            f"| {c['users']:,} | {c['credential_bytes']} |"
        )
    return [*lines, ""]


def _peers_table(peers: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "| dualauth mode | stock peer | req/s x peer | CPU x peer | p99 ms | peer p99 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for mode, p in peers.items():
        lines.append(
            f"| {mode} | {p['peer']} | {num(p['rps_ratio'], 2)} | {num(p['cpu_ratio'], 2)} "
            f"| {num(p['p99_ms'], 2)} | {num(p['peer_p99_ms'], 2)} |"
        )
    return [*lines, ""]


def _logins_table(logins: dict[str, dict[str, Any]], meta: dict[str, Any]) -> list[str]:
    lines = [
        f"Logins (`POST` of the JWT login, {meta['login_duration_s']} s each), and jwt-header "
        f"reads alone and during a flood of {meta['flood_rate']:g} logins/s:",
        "",
        "| hasher | login ms (one client) | logins/s (saturated) | CPU ms/login "
        "| reads/s alone | reads/s in flood | ratio | flood answered/s | flood login p50 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, h in logins.items():
        flood = h["flood"]
        lines.append(
            f"| {name} | {num(h['login_median_ms'], 1)} | {num(h['logins_per_s'], 1)} "
            f"| {num(h['cpu_ms_per_login'], 0)} | {num(h['reads_alone']['rps'], 0)} "
            f"| {num(h['reads_flooded']['rps'], 0)} | {num(h['reads_ratio'], 2)} "
            f"| {num(flood['answered_per_s'], 1)} | {num(flood['login_p50_ms'], 0)} |"
        )
    return [*lines, ""]


def markdown(result: dict[str, Any]) -> str:
    """The run as Markdown tables."""
    meta = result["meta"]
    lines = [
        "# dualauth benchmark",
        "",
        f"{meta['started_at']} · {tree_label(meta)} · {meta['database']} + {meta['cache']} · "
        "gunicorn "
        f"{meta['workers']}x{meta['threads']} {meta['worker_class']} · "
        f"load: {meta['load_generator']} "
        f"({meta['connections']} connections, {meta['users']:,} users, "
        f"{meta['duration_s']} s x {meta['repeats']} "
        f"interleaved repeats, medians) · {meta['cpus']} CPUs, load average {meta['loadavg']}"
        + (" · QUICK mode" if meta["quick"] else ""),
        "",
        meta["note"],
        "",
    ]
    if result["configs"]:
        lines += _configs_tables(result["configs"])
    if result.get("peers"):
        lines += _peers_table(result["peers"])
    if result.get("logins"):
        lines += _logins_table(result["logins"], meta)
    if result.get("profile"):
        profile = result["profile"]
        lines += [
            "## Where the time goes",
            "",
            *profile_markdown(profile["configs"], profile["requests"]),
        ]
    sweep = result.get("sweep")
    if sweep:
        lines += [
            f"## Scaling: {sweep['note']}",
            "",
            "| stored logins | "
            + " | ".join(f"{mode} req/s" for mode in sweep["modes"])
            + " | cold family lookup µs | cold db-session load µs |",
            "|---:|" + "---:|" * (len(sweep["modes"]) + 2),
        ]
        for i, size in enumerate(sweep["sizes"]):
            cells = [num(sweep["modes"][mode][i]["rps"], 0) for mode in sweep["modes"]]
            cold = sweep["cold"][i]
            lines.append(
                f"| {size:,} | "
                + " | ".join(cells)
                + f" | {num(cold['family_us'], 0)} | {num(cold['session_us'], 0)} |"
            )
        lines += [
            "",
            "Ratio largest/smallest (target ≥ 0.9): "
            + ", ".join(f"{mode} {ratio:.2f}" for mode, ratio in sweep["ratio"].items()),
            "",
        ]
    return "\n".join(lines)


def _ratio_chart(result: dict[str, Any], path: Path) -> Path:
    """Both ratios to the baseline per configuration: req/s, and CPU per request."""
    names = list(result["configs"])
    series = [
        ("req/s", "ratio_to_baseline", "#4a7ebb"),
        ("CPU per request (baseline's / row's)", "cpu_ratio_to_baseline", "#d9822b"),
    ]
    fig, ax = plt.subplots(figsize=(11, 4.8))
    width = 0.4
    for i, (label, key, color) in enumerate(series):
        values = [result["configs"][name][key] or 0 for name in names]
        xs = [x + (i - 0.5) * width for x in range(len(names))]
        bars = ax.bar(xs, values, width, label=label, color=color)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7)
    ax.set_xticks(range(len(names)), names, rotation=25, ha="right")
    ax.axhline(1.0, color="#888", linewidth=0.8, linestyle="--")
    ax.set_ylabel("ratio to the stock constant endpoint")
    meta = result["meta"]
    ax.set_title(
        f"stock Django/DRF/simplejwt and dualauth, {meta['users']:,} users "
        f"({meta['database']} + {meta['cache']})"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _scaling_chart(result: dict[str, Any], path: Path) -> Path:
    sweep = result["sweep"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for mode, points in sweep["modes"].items():
        ax.plot(sweep["sizes"], [p["rps"] for p in points], marker="o", label=mode)
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("stored login families and database sessions")
    ax.set_ylabel("req/s")
    ax.set_title("dualauth: per-request throughput vs stored logins")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
