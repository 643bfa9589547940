"""The bench's memo counters: read per measurement, with nothing of the one before."""

import struct
from pathlib import Path

import pytest

from bench import memo_stats
from bench.memo_stats import COUNTERS, MEMOS, counters_read, counters_settled


def _write(path: Path, counts: dict[str, dict[str, int]]) -> None:
    values = [counts[name][kind] for name in MEMOS for kind in ("hits", "misses")]
    path.write_bytes(struct.pack(f"{COUNTERS}Q", *values))


def test_settled_counters_include_the_requests_still_in_the_server(tmp_path, monkeypatch):
    worker = tmp_path / "1.memo"
    _write(worker, {name: {"hits": 0, "misses": 0} for name in MEMOS})
    waits: list[float] = []

    def wait(seconds: float) -> None:
        # Each of the first three waits sees one more request of the last load finish.
        waits.append(seconds)
        if len(waits) <= 3:
            counts = counters_read(tmp_path)
            counts["sessions"]["hits"] += 1
            _write(worker, counts)

    monkeypatch.setattr(memo_stats, "sleep", wait)

    settled = counters_settled(tmp_path, quiet_s=0.25)

    assert settled["sessions"] == {"hits": 3, "misses": 0}
    assert waits == [0.25] * 4


def test_settling_gives_up_after_its_deadline(tmp_path, monkeypatch):
    worker = tmp_path / "1.memo"
    _write(worker, {name: {"hits": 0, "misses": 0} for name in MEMOS})
    now = [0.0]

    def busy(seconds: float) -> None:
        now[0] += seconds
        counts = counters_read(tmp_path)
        counts["tokens"]["misses"] += 1
        _write(worker, counts)

    monkeypatch.setattr(memo_stats, "sleep", busy)
    monkeypatch.setattr(memo_stats, "monotonic", lambda: now[0])

    settled = counters_settled(tmp_path, quiet_s=0.5, max_s=2.0)

    assert settled["tokens"]["misses"] == 4
    assert now[0] == pytest.approx(2.0)
