"""`python -m bench.compare`: the session-vs-JWT table, from what was measured and tested.

It measures nothing itself: the per-request figures come from `python -m bench`'s
`latest.json`, the bytes per login from `python -m bench.capacity`'s `capacity.json`, the
`push` level's revocation window from `python -m bench.window`'s `window.json`, the
instructions per request from `python -m bench.instructions`'s `instructions.json` (all in
`--results`), and the behaviours from the comparative tests (tests/test_comparative.py),
run now unless `--junit` names a report of theirs. A stock peer's window is what its
design gives. Writes `compare.md` and the dial (`dial.png`: throughput against revocation
window) into `--out` and prints the table.
"""

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from bench.configs import DPOP, PUSH
from bench.env import RESULTS, ROOT, arguments_parser, results_dir, tree_label, tree_state
from bench.report import dial_chart, md_table, md_write, num
from bench.stock.settings import SIMPLE_JWT

MODES = ("session", "jwt-header", "jwt-cookie")
STOCK = ("stock-session-db", "stock-session-cache", "stock-session-cached-db", "stock-token")
COLUMNS = (*MODES, *(m + PUSH for m in MODES), DPOP, *STOCK, "stock-jwt", "stock-jwt-stateless")
# A stock peer's window, ms, by its design: the next request for a stored credential (the row
# deleted), and for a JWT its access token's lifetime (the stock project's setting).
LIFETIME_MS = SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds() * 1000
DESIGN_WINDOW_MS = {**dict.fromkeys(STOCK, 0.0), **dict.fromkeys(COLUMNS[-2:], LIFETIME_MS)}
# The conditions of window.json the table shows.
CONDITIONS = ("idle", "load")
COMPARATIVE_TESTS = "tests/test_comparative.py"
# The worst outcome of a test's cases in a mode is the cell's.
OUTCOMES = ("FAIL", "skipped", "pass")
# Whether a configuration works without cookies, by the header its credential rides in.
COOKIELESS = {"Cookie": "no", "Authorization": "yes"}


def comparative_run(junit: Path) -> None:
    """Run the comparative tests, their report into `junit` (failures are reported, not raised)."""
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", COMPARATIVE_TESTS]
    subprocess.run([*pytest, f"--junitxml={junit}"], cwd=ROOT, check=False)  # noqa: S603
    if not junit.exists():
        raise SystemExit(f"the comparative tests left no report ({junit})")


def comparative_read(junit: Path) -> dict[str, dict[str, str]]:
    """Each test's outcome per mode it ran in: the worst of its cases (`FAIL`, `skipped`, `pass`).

    A case's modes are those its parameters name; a case naming none ran in every mode.
    """
    rows: dict[str, dict[str, str]] = {}
    for case in ElementTree.parse(junit).iter("testcase"):  # noqa: S314
        name, _, params = str(case.get("name")).partition("[")
        failed = case.find("failure") is not None or case.find("error") is not None
        outcome = "FAIL" if failed else "skipped" if case.find("skipped") is not None else "pass"
        modes = [m for m in MODES if re.search(rf"(^|-){m}(-|\]|$)", params)] or MODES
        row = rows.setdefault(name.removeprefix("test_").replace("_", " "), {})
        for mode in modes:
            row[mode] = min(row.get(mode, "pass"), outcome, key=OUTCOMES.index)
    return rows


def windows(window: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]]:
    """window.json's rows by (configuration, condition): a mode's name, and `-push` after it."""
    rows = (window or {}).get("rows", [])
    return {(r["mode"] + ("" if r["level"] == "strict" else PUSH), r["condition"]): r for r in rows}


def window_of(name: str, condition: str, measured: dict[Any, Any]) -> dict[str, Any] | None:
    """A configuration's window in `condition`: its row of window.json, else its design's
    (`window_ms` only); None for a `push` row not measured.
    """
    if name.endswith(PUSH) or (name, condition) in measured:
        return measured.get((name, condition))
    return {"window_ms": dict.fromkeys(("p50", "p99", "max"), DESIGN_WINDOW_MS.get(name, 0.0))}


def window_cell(name: str, condition: str, measured: dict[Any, Any]) -> str:
    """A window in words: p50 / p99 / max ms and the requests served inside, or the design's."""
    if (row := window_of(name, condition, measured)) is None:
        return "not measured (`python -m bench.window`)"
    w = row["window_ms"]
    if "served_inside" in row:
        figures = f"{num(w['p50'], 2)} / {num(w['p99'], 2)} / {num(w['max'], 1)} ms"
        return f"{figures}, {row['served_inside']:,} served inside"
    if w["max"]:
        return f"{w['max'] / 3_600_000:g} h: until the token expires, whatever is revoked"
    return "0: the next request"


def table(
    bench: dict[str, Any] | None,
    capacity: dict[str, Any] | None,
    window: dict[str, Any] | None,
    instructions: dict[str, Any] | None,
    tests: dict[str, dict[str, str]],
) -> list[str]:
    """The rows: the bench's figures, the instructions, the windows, capacity's bytes, the
    tests' outcomes; a column a configuration.
    """
    configs = (bench or {}).get("configs", {})
    counted = (instructions or {}).get("configs", {})
    constant = counted.get("baseline", {}).get("instructions_per_request")
    columns = [c for c in COLUMNS if c in configs or (not configs and c in MODES)]
    stored = (capacity or {}).get("modes", {})
    measured = windows(window)

    figures = {
        "revocation": lambda c: c["revocation"],
        "works without cookies": lambda c: COOKIELESS.get(c.get("credential_header"), "n/a"),
        "credential bytes per request": lambda c: num(c["credential_bytes"]),
        "req/s (x constant endpoint)": lambda c: (
            f"{num(c['rps'], 0)} ({num(c['ratio_to_baseline'], 2)})"
        ),
        "CPU ms per request": lambda c: num(c["cpu_ms_per_request"], 3),
        "p99 ms": lambda c: num(c["p99_ms"], 1),
        "SQL queries per request": lambda c: num(c["sql_per_request"], 2),
        "Redis round trips per request": lambda c: num(c["redis_per_request"], 2),
    }
    bytes_per_login = {
        "PostgreSQL bytes per login": lambda m: sum(
            t["bytes_per_login"] for t in m["postgres"].values()
        ),
        "Redis bytes per login": lambda m: m["redis_keys_bytes_per_login"],
    }
    rows = [
        *(
            [label, *(cell(configs[c]) if c in configs else "not measured" for c in columns)]
            for label, cell in figures.items()
        ),
        [
            "M instructions per request (constant endpoint's / this)",
            *(instructions_cell(counted.get(c), constant) for c in columns),
        ],
        *(
            [
                f"revocation window ({condition}): p50 / p99 / max",
                *(window_cell(c, condition, measured) for c in columns),
            ]
            for condition in CONDITIONS
        ),
        *(
            [label, *(num(cell(stored[c]), 0) if c in stored else "n/a" for c in columns)]
            for label, cell in bytes_per_login.items()
        ),
        *(
            [
                f"test: {name}",
                *(outcomes.get(c, "n/a") if c in MODES else "not tested" for c in columns),
            ]
            for name, outcomes in tests.items()
        ),
    ]
    return md_table(["", *columns], rows, left=len(columns) + 1)


def instructions_cell(counted: dict[str, Any] | None, constant: float | None) -> str:
    """A configuration's instructions per request, in millions, and the constant endpoint's
    count over its own.
    """
    if counted is None:
        return "not counted (`python -m bench.instructions`)"
    mine = counted["instructions_per_request"]
    return f"{mine / 1e6:.2f} ({num(constant / mine, 2) if constant else 'n/a'})"


def dial(bench: dict[str, Any] | None, window: dict[str, Any] | None) -> dict[str, Any]:
    """Each measured configuration's throughput (x constant endpoint) and window (ms, under
    load, else idle), and the (strict, push) rows of each mode measured at both levels.
    """
    configs, measured = (bench or {}).get("configs", {}), windows(window)
    points = {
        name: {"ratio": configs[name]["ratio_to_baseline"], "window_ms": row["window_ms"]}
        for name in COLUMNS
        if name in configs
        and (row := window_of(name, "load", measured) or window_of(name, "idle", measured))
    }
    dials = [(m, m + PUSH) for m in MODES if m in points and m + PUSH in points]
    return {"points": points, "dials": dials}


def main(argv: list[str] | None = None) -> None:
    """Read the results, run the comparative tests unless given, write compare.md."""
    parser = arguments_parser("python -m bench.compare", __doc__)
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the inputs are")
    parser.add_argument("--junit", type=Path, help="the comparative tests' JUnit XML report")
    args = parser.parse_args(argv)
    tree = tree_state()
    names = ("latest.json", "capacity.json", "window.json", "instructions.json")
    read = [args.results / name for name in names]
    bench, capacity, window, instructions = (
        json.loads(p.read_text()) if p.exists() else None for p in read
    )
    with tempfile.TemporaryDirectory() as tmp:
        junit = args.junit or Path(tmp) / "comparative.xml"
        if args.junit is None:
            comparative_run(junit)
        tests = comparative_read(junit)
    out, provenance = results_dir(args.out, tree)

    def source(what: str, result: dict[str, Any] | None, command: str) -> str:
        if result is None:
            return f"- {what}: none in {args.results} (`{command}`)"
        meta = {"started_at": "not dated", "commit": "not recorded", **result.get("meta", result)}
        rows = {r["commit"] for r in result.get("rows", []) if "commit" in r}
        if len(rows) > 1:
            return f"- {what}: rows of commits {', '.join(sorted(rows))} (each row says which)"
        return f"- {what}: {meta['started_at']}, commit {tree_label(meta)}"

    md_write(
        out / "compare.md",
        [
            "# Sessions vs JWTs",
            "",
            f"Made at {tree_label(provenance)} from:",
            "",
            source("per-request figures (`python -m bench`, latest.json)", bench, "make bench"),
            *(
                source(f"{what} (`python -m bench.{m}`)", result, f"python -m bench.{m}")
                for what, m, result in (
                    ("bytes per login", "capacity", capacity),
                    ("the `push` window", "window", window),
                    ("instructions per request", "instructions", instructions),
                )
            ),
            f"- behaviours (`{COMPARATIVE_TESTS}`): "
            + (f"the report {args.junit}" if args.junit else "run with this table"),
            "",
            *table(bench, capacity, window, instructions, tests),
            "bench/README.md says what each configuration runs and how each figure is measured.",
            "",
        ],
    )
    print(dial_chart(dial(bench, window), out / "dial.png"))


if __name__ == "__main__":
    main()
