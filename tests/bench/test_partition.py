"""`python -m bench.partition` measures every outage and mode, and no window is left open.

The one timing asserted is the regression guard: a revocation made during an outage that
B went on accepting until the outage ended (`pause-write`, `cut`), or that only reached
Redis at the revoking instance's next request, or when the live state expired
(FAMILY_CACHE_TTL, 60 s), leaves a window the bench reports as null.
"""

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from tests.bench.conftest import bench_run
from tests.conftest import require_service

pytestmark = pytest.mark.server

OUTAGES = {"stop", "pause-write", "cut"}
MODES = {"session", "jwt-header", "jwt-cookie"}
TRIALS = 1
# Far above what closing takes (a poll of the pending revocations, 250 ms, and a cache
# socket timeout, 250 ms, at most), far below the 60 s it replaced.
WINDOW_LIMIT_MS = 2000
FIGURES = ("window_ms", "marker_ms", "logout_ms")
HUNG_CALLS = ("profile", "login", "refresh", "logout")


def test_partition_measures_every_outage_and_mode_and_no_window_stays_open(
    tmp_path: Path,
) -> None:
    database = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    require_service(database, "the partition bench needs PostgreSQL (DATABASE_URL)")
    require_service(shutil.which("redis-server") is not None, "redis-server is not installed")
    args = ["--trials", str(TRIALS), "--timeout", "2", "--out", str(tmp_path)]
    done = bench_run("bench.partition", *args)
    for outage in OUTAGES:
        assert f"| {outage} | session |" in done.stdout
    result = json.loads((tmp_path / "partition.json").read_text())
    assert result["meta"]["trials"] == TRIALS
    assert result["meta"]["window_from"].keys() == result["meta"]["marker_from"].keys() == OUTAGES
    assert result["outages"].keys() == OUTAGES
    for outage, by_mode in result["outages"].items():
        assert by_mode.keys() == MODES
        for mode, figures in by_mode.items():
            assert figures.keys() == {*FIGURES, "refused_during_outage", "samples"}
            assert len(figures["samples"]) == TRIALS
            for sample in figures["samples"]:
                assert sample.keys() == {*FIGURES, "refused_during_outage"}
                for figure in ("window_ms", "marker_ms"):
                    value = sample[figure]
                    assert value is not None, (outage, mode, figure, "never closed")
                    assert math.isfinite(value), (outage, mode, figure, value)
                    assert 0 <= value < WINDOW_LIMIT_MS, (outage, mode, figure, value)
                assert sample["logout_ms"] > 0
                # B is asked nothing during a stop; during the others, it refused meanwhile.
                assert sample["refused_during_outage"] is (None if outage == "stop" else True)
            for figure in FIGURES:
                stats = figures[figure]
                assert stats.keys() == {"median", "p95", "max"}
                assert stats["median"] <= stats["p95"] <= stats["max"]
            assert figures["refused_during_outage"] == (None if outage == "stop" else TRIALS)
    # While Redis was stopped, B served every call of every mode (a failed one fails the bench).
    assert result["hung"].keys() == MODES
    for mode, calls in result["hung"].items():
        assert len(calls["samples"]) == TRIALS
        for call in HUNG_CALLS:
            timed = calls[f"{call}_ms"]
            if call == "refresh" and mode == "session":
                assert timed == {"median": None, "p95": None, "max": None}
            else:
                assert 0 < timed["median"] <= timed["max"], (mode, call)
    assert "| jwt-cookie | " in done.stdout.split("while Redis was stopped")[1]
