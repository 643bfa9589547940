"""`python -m bench.window` measures both levels idle, push with its channel cut, and both
during each Redis outage, every mode, in the shape `make compare` reads: strict serves
nothing after its revocation answered, push nothing after its channel is known broken, and
no outage leaves a window open.

The one timing asserted is the regression guard: a revocation made during an outage that B
went on accepting until the outage ended (`pause-write`, `cut-off`), or that reached Redis
only at the revoking instance's next request, or when the live state expired
(FAMILY_CACHE_TTL, 60 s), leaves a window of the hammering threads' whole 5 s. The load and
failover conditions run the same trials as these; they are left to the bench itself, which
would double this test's time.
"""

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from bench.window import rows_merge
from tests.bench.conftest import CHEAP_HASHING, bench_run
from tests.conftest import require_service
from tests.live import ROOT

pytestmark = pytest.mark.server

MODES = ("session", "jwt-header", "jwt-cookie")
OUTAGES = ("stop", "pause-write", "cut-off")
CONDITIONS = {"strict": ("idle", *OUTAGES), "push": ("idle", "cut", *OUTAGES)}
FAULTS = {"cut", *OUTAGES}
TRIALS = 2
# Far above what closing takes (a poll of the pending revocations, 250 ms, and a cache
# socket timeout, 250 ms, at most), far below the 60 s it replaced.
WINDOW_LIMIT_MS = 2000


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The smallest run of every level and condition."""
    require_service(shutil.which("redis-server") is not None, "push's faults need redis-server")
    database = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    require_service(database, "bench.window runs on PostgreSQL (DATABASE_URL)")
    require_service(bool(os.environ.get("REDIS_URL")), "bench.window runs on Redis (REDIS_URL)")
    out = tmp_path_factory.mktemp("window")
    args = ["--trials", str(TRIALS), "--fault-trials", "1", "--users", "10", "--out", str(out)]
    args += ["--conditions", ",".join(["idle", "cut", *OUTAGES])]
    bench_run("bench.window", *args, env=CHEAP_HASHING)
    return json.loads((out / "window.json").read_text())


def test_every_level_condition_and_mode_is_a_row_of_the_shape_compare_reads(result):
    assert result.keys() == {"commit", "clean", "rows"}
    expected = [
        (mode, level, condition)
        for level, conditions in CONDITIONS.items()
        for condition in conditions
        for mode in MODES
    ]
    assert sorted((r["mode"], r["level"], r["condition"]) for r in result["rows"]) == sorted(
        expected
    )
    for row in result["rows"]:
        assert row.keys() == {
            *("mode", "level", "condition", "trials", "window_ms", "commit"),
            *("served_inside", "accepted_after_broken"),
        }
        assert row["trials"] == (1 if row["condition"] in FAULTS else TRIALS)
        assert row["window_ms"].keys() == {"p50", "p99", "max"}
        assert 0 <= row["window_ms"]["p50"] <= row["window_ms"]["p99"] <= row["window_ms"]["max"]


def test_strict_accepts_no_request_sent_after_the_revocation_answered(result):
    strict = [r for r in result["rows"] if (r["level"], r["condition"]) == ("strict", "idle")]
    assert len(strict) == len(MODES)
    for row in strict:
        assert row["served_inside"] == 0, row
        assert row["window_ms"]["max"] == 0, row


def test_the_result_records_the_commit_it_was_made_at(result):
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    assert result["commit"] == head.stdout.strip()
    assert isinstance(result["clean"], bool)
    assert {row["commit"] for row in result["rows"]} == {result["commit"]}


def test_a_run_of_some_conditions_keeps_the_other_rows_with_the_commit_they_were_made_at():
    def made(level: str, condition: str, mode: str, **more: Any) -> dict[str, Any]:
        return {"level": level, "condition": condition, "mode": mode, **more}

    earlier = {
        "commit": "old",
        "rows": [
            made("strict", "idle", "session", trials=10_000),
            made("strict", "stop", "session", trials=100),
            made("push", "idle", "session", trials=10_000, commit="older"),
        ],
    }
    again = [made("strict", "stop", "session", trials=1, commit="new")]

    assert rows_merge(earlier=earlier, measured=again) == [
        made("strict", "idle", "session", trials=10_000, commit="old"),
        made("strict", "stop", "session", trials=1, commit="new"),
        made("push", "idle", "session", trials=10_000, commit="older"),
    ]


def test_push_accepts_nothing_once_its_cut_channel_is_known_broken(result):
    cut = [row for row in result["rows"] if row["condition"] == "cut"]
    assert [row["mode"] for row in cut] == list(MODES)
    for row in cut:
        assert row["accepted_after_broken"] == 0, row


def test_no_redis_outage_leaves_a_revocation_window_open(result):
    outages = [row for row in result["rows"] if row["condition"] in OUTAGES]
    assert len(outages) == len(OUTAGES) * len(MODES) * len(CONDITIONS)
    for row in outages:
        assert row["window_ms"]["max"] < WINDOW_LIMIT_MS, row
