"""`bench.compare` sets each configuration's throughput, CPU and revocation window side by
side, draws the dial, and puts each comparative test's outcome under the modes it ran in.
"""

import json
from pathlib import Path

import pytest

from bench.compare import comparative_read, dial, main
from bench.stock.settings import SIMPLE_JWT

# Results as `python -m bench`, `bench.window` and `bench.instructions` write them, a few rows of
# each.
RESULTS = Path(__file__).parent / "results"
LIFETIME_H = SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds() / 3600

# A report as pytest writes it (--junitxml): cases named by their parameters.
JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="t" name="test_every_mode_reads_the_identical_profile[runserver]"/>
<testcase classname="t" name="test_a_wrong_csrf_token_is_refused[runserver-session]"/>
<testcase classname="t" name="test_a_wrong_csrf_token_is_refused[runserver-jwt-cookie]"/>
<testcase classname="t" name="test_a_wrong_csrf_token_is_refused[gunicorn-jwt-cookie]">
<failure message="assert 200 == 403"/></testcase>
<testcase classname="t" name="test_logout_all_ends_every_login[gunicorn-session-jwt-header]">
<skipped message="no Redis"/></testcase>
<testcase classname="t" name="test_logout_all_ends_every_login[gunicorn-session-session]"/>
</testsuite></testsuites>
"""


def test_each_test_reports_its_worst_case_in_each_mode_it_ran_in(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)

    assert comparative_read(junit) == {
        "every mode reads the identical profile": {
            "session": "pass",
            "jwt-header": "pass",
            "jwt-cookie": "pass",
        },
        "a wrong csrf token is refused": {"session": "pass", "jwt-cookie": "FAIL"},
        "logout all ends every login": {"session": "skipped", "jwt-header": "skipped"},
    }


@pytest.fixture
def compared(tmp_path: Path) -> tuple[dict[str, dict[str, str]], Path]:
    """`make compare` of the fixture results: the table's cells by row and column, and where
    it wrote.
    """
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    main(["--results", str(RESULTS), "--junit", str(junit), "--out", str(tmp_path)])
    lines = [
        line for line in (tmp_path / "compare.md").read_text().splitlines() if line[:2] == "| "
    ]
    head, *rows = ([cell.strip() for cell in line.strip("|").split(" | ")] for line in lines)
    return {row[0]: dict(zip(head[1:], row[1:], strict=True)) for row in rows}, tmp_path


def test_the_table_has_a_column_for_each_level_of_each_mode_and_each_stock_peer(compared):
    table, _ = compared
    assert list(table["p99 ms"]) == [
        *("session", "jwt-header", "session-push", "jwt-header-push", "jwt-header+dpop"),
        *("stock-session-db", "stock-jwt-stateless"),
    ]


def test_throughput_and_cpu_per_request_come_from_the_bench(compared):
    table, _ = compared
    assert table["req/s (x constant endpoint)"]["jwt-header-push"] == "1,500 (0.75)"
    assert table["req/s (x constant endpoint)"]["stock-jwt-stateless"] == "1,600 (0.80)"
    assert table["CPU ms per request"]["jwt-header+dpop"] == "1.600"


def test_instructions_per_request_come_from_their_count(compared):
    table, _ = compared
    counted = table["M instructions per request (constant endpoint's / this)"]
    assert counted["jwt-header"] == "2.00 (0.50)"
    assert counted["jwt-header-push"] == "1.60 (0.62)"
    assert counted["session"] == "not counted (`python -m bench.instructions`)"


def test_the_push_window_comes_from_the_window_harness_idle_and_under_load(compared):
    table, _ = compared
    idle, load = (table[f"revocation window ({c}): p50 / p99 / max"] for c in ("idle", "load"))
    assert idle["jwt-header-push"] == "0.40 / 1.20 / 9.0 ms, 3 served inside"
    assert load["jwt-header-push"] == "0.80 / 2.50 / 31.0 ms, 41 served inside"
    assert idle["session-push"] == load["session-push"] == "not measured (`python -m bench.window`)"


def test_a_window_of_rows_from_several_runs_names_each_runs_commit(compared):
    _, out = compared
    sources = (out / "compare.md").read_text()
    assert "- the `push` window (`python -m bench.window`): rows of commits abc1234, def5678" in (
        sources
    )


def test_a_stock_peers_window_is_its_designs(compared):
    table, _ = compared
    for condition in ("idle", "load"):
        window = table[f"revocation window ({condition}): p50 / p99 / max"]
        assert window["stock-session-db"] == window["session"] == "0: the next request"
        assert window["jwt-header+dpop"] == "0: the next request"
        expires = f"{LIFETIME_H:g} h: until the token expires, whatever is revoked"
        assert window["stock-jwt-stateless"] == expires


def test_the_dial_sets_each_row_at_its_window_and_draws_it(compared):
    _, out = compared
    bench, window = (json.loads((RESULTS / n).read_text()) for n in ("latest.json", "window.json"))

    drawn = dial(bench, window)

    points = {name: (p["ratio"], p["window_ms"]["p99"]) for name, p in drawn["points"].items()}
    assert points == {
        "session": (0.55, 0.0),
        "jwt-header": (0.5, 0.0),
        "jwt-header-push": (0.75, 2.5),
        "jwt-header+dpop": (0.35, 0.0),
        "stock-session-db": (0.2, 0.0),
        "stock-jwt-stateless": (0.8, LIFETIME_H * 3_600_000),
    }
    assert drawn["dials"] == [("jwt-header", "jwt-header-push")]
    assert (out / "dial.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
