"""Results as Markdown tables and the dial: `python -m bench`'s and `make compare`'s."""

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.env import tree_label

NOTE = (
    "Medians of interleaved repeats (A, B, C, A, B, C, ...); the load generator runs on the "
    "same machine. Absolute numbers depend on the machine and on what else runs on it: "
    "compare configurations within one run, not across runs. CPU ms/req is the user + "
    "system time of the gunicorn master and workers per request served; `x baseline` is "
    "req/s over the baseline's req/s, and for CPU the baseline's CPU per request over the "
    "row's (both: 1.00 is as cheap as the baseline, lower is dearer)."
)
# The profile's layers in the order a request crosses them, and their column titles.
LAYERS = {
    "django_middleware": "Django + middleware",
    "drf_request_response": "DRF request/response",
    "authentication": "authentication",
    "cache_round_trips": "of which Redis",
    "sql": "of which SQL",
    "permissions_negotiation": "permissions + negotiation",
    "view": "view (serializer)",
    "rendering": "rendering",
}


def md_write(path: Path, lines: list[str]) -> None:
    """Write `lines` as the Markdown file `path`, and print them."""
    path.write_text("\n".join(lines))
    print("\n".join(lines))


def num(value: Any, digits: int = 1) -> str:
    """A figure for a table: thousands separated, `digits` decimals for a float; `n/a` for None."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def md_table(head: Sequence[str], rows: Iterable[Sequence[Any]], *, left: int = 1) -> list[str]:
    """A Markdown table: its first `left` columns aligned left, the others (figures) right."""
    aligns = ["---"] * left + ["---:"] * (len(head) - left)
    lines = [f"| {' | '.join(head)} |", f"|{'|'.join(aligns)}|"]
    return [*lines, *(f"| {' | '.join(str(cell) for cell in row)} |" for row in rows), ""]


def profile_markdown(profiles: dict[str, Any], n: int) -> list[str]:
    """The profiles as a Markdown table, µs per request, with how they were measured."""
    baseline = profiles.get("baseline", {}).get("us_per_request")

    def row(name: str, profile: dict[str, Any]) -> list[str]:
        total, profiled = profile["us_per_request"], profile["profiled"]
        # Each layer's share under the profiler, of the time without it.
        factor = total / profiled["total"] if profiled["total"] else 0.0
        ratio = num(total / baseline, 2) if baseline else "n/a"
        return [name, num(total, 0), ratio, *(num(profiled[k] * factor, 0) for k in LAYERS)]

    return [
        f"In-process, through each project's WSGI application, {n:,} requests per "
        "configuration and batch over its users in turn, after a warm-up pass. µs per request: "
        "without a profiler (median of 3 batches); each layer's share measured under cProfile, "
        "scaled to that total (the profiler inflates Python more than waiting on the network).",
        "",
        *md_table(
            ["config", "µs/req", "x baseline", *LAYERS.values()],
            (row(name, profile) for name, profile in profiles.items()),
        ),
    ]


def md_figures(
    first: str, items: dict[str, dict[str, Any]], columns: Sequence[tuple[str, str, int | None]]
) -> list[str]:
    """A table of `items` by name, a column a (title, key, decimals): "a.b" keys a nested
    figure; decimals None puts the value as it is.
    """

    def cell(item: dict[str, Any], key: str, digits: int | None) -> str:
        for part in key.split("."):
            item = item[part]
        return str(item) if digits is None else num(item, digits)

    return md_table(
        [first, *(title for title, _, _ in columns)],
        ([name, *(cell(item, *column[1:]) for column in columns)] for name, item in items.items()),
        left=1 + next((i for i, c in enumerate(columns) if c[2] is not None), len(columns)),
    )


CONFIG_FIGURES = [
    ("req/s", "rps", 0),
    ("x baseline", "ratio_to_baseline", 2),
    ("p50 ms", "p50_ms", 2),
    ("p99 ms", "p99_ms", 2),
    ("CPU ms/req", "cpu_ms_per_request", 3),
    ("CPU x baseline", "cpu_ratio_to_baseline", 2),
    ("DB+Redis CPU ms/req", "backend_cpu_ms_per_request", 3),
    ("SQL/req", "sql_per_request", 2),
    ("Redis/req", "redis_per_request", 2),
    ("errors", "errors", 0),
]
LOGIN_FIGURES = [
    ("login ms (one client)", "login_median_ms", 1),
    ("logins/s (saturated)", "logins_per_s", 1),
    ("CPU ms/login", "cpu_ms_per_login", 0),
]


def markdown(result: dict[str, Any]) -> list[str]:
    """A run of `python -m bench` as Markdown tables."""
    meta, configs = result["meta"], result["configs"]
    lines = [
        "# dualauth benchmark",
        "",
        f"{meta['started_at']} · {tree_label(meta)} · {meta['database']} + {meta['cache']} · "
        f"gunicorn {meta['workers']}x{meta['threads']} {meta['worker_class']} · load: "
        f"{meta['load_generator']} ({meta['connections']} connections, {meta['users']:,} "
        f"users, {meta['duration_s']} s x {meta['repeats']} interleaved repeats, medians) · "
        f"{meta['cpus']} CPUs, load average {meta['loadavg']}"
        + (" · QUICK mode" if meta["quick"] else ""),
        "",
        NOTE,
        "",
        *md_figures("config", configs, CONFIG_FIGURES),
    ]
    if result.get("logins"):
        lines += [
            f"Logins (`POST` of the JWT login; saturated for {meta['login_duration_s']} s):",
            "",
            *md_figures("hasher", result["logins"], LOGIN_FIGURES),
        ]
    if result.get("profile"):
        profile = result["profile"]
        lines += ["## Where the time goes", ""]
        lines += profile_markdown(profile["configs"], profile["requests"])
    return lines


def results_write(result: dict[str, Any], out: Path) -> list[Path]:
    """Write the Markdown of one run; return its path."""
    md_write(out / "latest.md", markdown(result))
    return [out / "latest.md"]


# Where the dial draws a window of 0 (the next request), left of the log axis's measured ones.
ZERO_MS, SMALLEST_MS = 0.01, 0.03
DIAL_TICKS = {ZERO_MS: "0\n(next request)", 1: "1 ms", 1e3: "1 s", 6e4: "1 min", 3.6e6: "1 h"}


def dial_chart(dial: dict[str, Any], path: Path) -> Path:
    """Throughput against revocation window, a point a configuration (bench.compare's `dial`):
    at its window's p99, a bar from p50 to max; an arrow from each mode's strict row to its
    `push` row (the dial); 0 drawn apart, left of the log axis.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def x(ms: float) -> float:
        return ZERO_MS if ms <= 0 else max(ms, SMALLEST_MS)

    points = dial["points"]
    fig, ax = plt.subplots(figsize=(10, 5.5))
    # Labels of points close together are stacked upwards, at least `gap` apart.
    gap = max([p["ratio"] or 0 for p in points.values()] + [0.1]) / 25
    labels: dict[int, list[float]] = {}
    for name, point in sorted(points.items(), key=lambda item: item[1]["ratio"] or 0):
        w, y = point["window_ms"], point["ratio"] or 0
        color = "#888" if name.startswith("stock") else "#2a9d5c" if "push" in name else "#4a7ebb"
        spread = [[x(w["p99"]) - x(w["p50"])], [x(w["max"]) - x(w["p99"])]]
        ax.errorbar(x(w["p99"]), y, xerr=spread, fmt="o", color=color, capsize=3)
        column = labels.setdefault(round(math.log10(x(w["p99"]))), [])
        column.append(max([y, *(label + gap for label in column)]))
        line = {"arrowstyle": "-", "color": "#ddd", "linewidth": 0.5}
        ax.annotate(
            name, (x(w["p99"]), y), (x(w["p99"]) * 1.4, column[-1]), fontsize=8, arrowprops=line
        )
    for strict, push in dial["dials"]:
        ends = [(x(points[n]["window_ms"]["p99"]), points[n]["ratio"] or 0) for n in (strict, push)]
        ax.annotate(
            "", xy=ends[1], xytext=ends[0], arrowprops={"arrowstyle": "->", "color": "#aaa"}
        )
    ax.set_xscale("log")
    ax.set_xlim(ZERO_MS / 2, max(DIAL_TICKS) * 30)
    ax.axvline((ZERO_MS * SMALLEST_MS) ** 0.5, color="#ccc", linewidth=0.8, linestyle=":")
    ax.set_xticks(list(DIAL_TICKS), list(DIAL_TICKS.values()))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("revocation window (log; the point at p99, the bar from p50 to max)")
    ax.set_ylabel("req/s as a ratio to the stock constant endpoint")
    ax.set_title("Throughput against revocation window: dualauth's dial and the stock peers")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
