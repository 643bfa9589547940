"""Run outputs: a timestamped JSON per run plus `latest.json`, `latest.md`, and PNG charts."""

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def results_write(result: dict[str, Any], out: Path) -> list[Path]:
    """Write the JSON, the Markdown and the charts of one run; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(result["meta"]["started_at"]).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(result, indent=2, sort_keys=False) + "\n"
    paths = [out / f"run-{stamp}.json", out / "latest.json", out / "latest.md"]
    paths[0].write_text(text)
    paths[1].write_text(text)
    paths[2].write_text(markdown(result))
    if result["configs"]:
        paths.append(_ratio_chart(result, out / "latest.png"))
    if result.get("sweep"):
        paths.append(_scaling_chart(result, out / "scaling.png"))
    return paths


def markdown(result: dict[str, Any]) -> str:
    """The run as Markdown tables."""
    meta = result["meta"]
    lines = [
        "# dualauth benchmark",
        "",
        f"{meta['started_at']} · {meta['commit']} · {meta['database']} + {meta['cache']} · "
        "gunicorn "
        f"{meta['workers']}x{meta['threads']} {meta['worker_class']} · "
        f"load: {meta['load_generator']} "
        f"({meta['connections']} connections, {meta['duration_s']} s x {meta['repeats']} "
        f"interleaved repeats, medians) · {meta['cpus']} CPUs, load average {meta['loadavg']}"
        + (" · QUICK mode" if meta["quick"] else ""),
        "",
        meta["note"],
        "",
    ]
    if result["configs"]:
        lines += [
            "| config | req/s | x baseline | p50 ms | p99 ms | SQL/req | Redis/req "
            "| credential bytes/req | errors | what |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for name, c in result["configs"].items():
            lines.append(
                f"| {name} | {_num(c['rps'], 0)} | {_num(c['ratio_to_baseline'], 2)} "
                f"| {_num(c['p50_ms'], 2)} | {_num(c['p99_ms'], 2)} "
                f"| {_num(c['sql_per_request'], 2)} "
                f"| {_num(c['redis_per_request'], 2)} | {c['credential_bytes']} | {c['errors']} "
                f"| {c['description']} |"
            )
        lines.append("")
    if result.get("costs"):
        lines += [
            "| operation (sequential calls) | median ms | per second | n |",
            "|---|---:|---:|---:|",
        ]
        for name, c in result["costs"].items():
            lines.append(
                f"| {name} | {_num(c['median_ms'], 1)} | {_num(c['per_s'], 1)} | {c['n']} |"
            )
        lines.append("")
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
            cells = [_num(sweep["modes"][mode][i]["rps"], 0) for mode in sweep["modes"]]
            cold = sweep["cold"][i]
            lines.append(
                f"| {size:,} | "
                + " | ".join(cells)
                + f" | {_num(cold['family_us'], 0)} | {_num(cold['session_us'], 0)} |"
            )
        lines += [
            "",
            "Ratio largest/smallest (target ≥ 0.9): "
            + ", ".join(f"{mode} {ratio:.2f}" for mode, ratio in sweep["ratio"].items()),
            "",
        ]
    return "\n".join(lines)


def _ratio_chart(result: dict[str, Any], path: Path) -> Path:
    names = list(result["configs"])
    ratios = [result["configs"][name]["ratio_to_baseline"] or 0 for name in names]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bars = ax.bar(names, ratios, color=["#888"] + ["#4a7ebb"] * (len(names) - 1))
    ax.bar_label(bars, labels=[f"{r:.2f}" for r in ratios])
    ax.axhline(1.0, color="#888", linewidth=0.8, linestyle="--")
    ax.set_ylabel("req/s as a ratio to baseline")
    meta = result["meta"]
    ax.set_title(f"dualauth: throughput per config ({meta['database']} + {meta['cache']})")
    ax.tick_params(axis="x", rotation=20)
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
