"""Hits and misses of dualauth's per-process memos, counted in the bench's dualauth server.

A gunicorn hook (bench/gunicorn_conf.py) swaps each memo of a worker for a counting
one, whose `get` adds 1 to a hit or a miss counter in a small memory-mapped file of
that worker. The bench reads the files between measurements, without a request to
the server: the server keeps its production settings and URLs. A count costs a few
hundred nanoseconds per `get`; two threads of one worker may, rarely, lose one.
"""

import mmap
import os
import struct
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from time import monotonic, sleep
from typing import Any

from bench.load import LoadGenerator, Request
from common.memo import BoundedMemo

# The memos of the hot path: verified access tokens (jwt_auth/tokens.py), sessions this
# process has authenticated (session_auth/services.py), and when this process last
# wrote each family's `last_seen_at` (common/logins.py: a hit spares that write).
MEMOS = ("tokens", "sessions", "seen")
COUNTERS = len(MEMOS) * 2
FILE_BYTES = COUNTERS * 8
# A server is warm once its memos miss less than this share of lookups in a slice.
WARM_MISSES = 0.01
# The worker's mapping, kept for the life of the process.
_mapped: list[mmap.mmap] = []


def _counters_map(path: Path) -> memoryview:
    """Unsigned 64-bit counters backed by `path`: hits and misses of each memo, in order."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.ftruncate(fd, FILE_BYTES)
        mapped = mmap.mmap(fd, FILE_BYTES)
    finally:
        os.close(fd)
    _mapped.append(mapped)
    return memoryview(mapped).cast("Q")


def _counting(
    index: int, counts: memoryview, hit: Callable[[Any], bool] | None = None
) -> type[BoundedMemo[Any, Any]]:
    """A memo counting its `get`s at `index` of `counts`: a hit when `hit(value)` (not None)."""
    hits, misses = 2 * index, 2 * index + 1

    class CountingMemo(BoundedMemo[Any, Any]):
        def get(self, key: Any) -> Any:
            value = BoundedMemo.get(self, key)
            counts[hits if (hit(value) if hit else value is not None) else misses] += 1
            return value

    return CountingMemo


def counters_install(directory: Path) -> None:
    """Make this process's memos count, into `<directory>/<pid>.memo`."""
    from common import logins
    from common.conf import dualauth_settings
    from jwt_auth import tokens
    from session_auth import services as session_services

    counts = _counters_map(directory / f"{os.getpid()}.memo")
    touch = dualauth_settings.TOUCH_INTERVAL.total_seconds()
    # `seen` hits only when what it remembers is recent enough to skip the database write.
    fresh = {"seen": lambda seen: seen is not None and time.time() - seen < touch}
    classes = {name: _counting(i, counts, fresh.get(name)) for i, name in enumerate(MEMOS)}
    # The token backend makes its memo (again, when the keys change) from this name.
    tokens.BoundedMemo = classes["tokens"]  # type: ignore[misc]
    tokens._backend = None
    session_services._known_sessions = classes["sessions"](session_services.KNOWN_SESSIONS_KEPT)
    logins._seen = classes["seen"](logins._seen.size)


def counters_read(directory: Path) -> dict[str, dict[str, int]]:
    """Hits and misses of each memo, summed over every worker that has counted so far."""
    totals = [0] * COUNTERS
    for path in directory.glob("*.memo"):
        data = path.read_bytes()
        if len(data) == FILE_BYTES:
            for i, value in enumerate(struct.unpack(f"{COUNTERS}Q", data)):
                totals[i] += value
    return {
        name: {"hits": totals[2 * i], "misses": totals[2 * i + 1]} for i, name in enumerate(MEMOS)
    }


def counters_settled(
    directory: Path, *, quiet_s: float = 0.25, max_s: float = 5.0
) -> dict[str, dict[str, int]]:
    """The counters once the server has stopped counting: two reads `quiet_s` apart agree.

    A load generator stops at its deadline with requests still in the server; read at
    once, their lookups would count in the next measurement, perhaps another mode's.
    """
    counts = counters_read(directory)
    deadline = monotonic() + max_s
    while monotonic() < deadline:
        sleep(quiet_s)
        again = counters_read(directory)
        if again == counts:
            break
        counts = again
    return counts


def counters_delta(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """What was counted between two reads."""
    return {
        name: {kind: after[name][kind] - before[name][kind] for kind in ("hits", "misses")}
        for name in MEMOS
    }


def _miss_rate(memo: dict[str, dict[str, int]]) -> float:
    """The largest share of misses among the memos looked up (0 when none was)."""
    rates = [
        m["misses"] / (m["hits"] + m["misses"]) for m in memo.values() if m["hits"] + m["misses"]
    ]
    return max(rates, default=0.0)


def warm_up(
    load: LoadGenerator,
    url: str,
    requests: Sequence[Request],
    directory: Path | None,
    *,
    slice_s: float,
    max_s: float,
) -> float:
    """Seconds of load before a measurement: one slice; with counters (`directory`), until steady.

    Steady: the memos missed under WARM_MISSES of their lookups during each of the last
    two slices, as they do once every worker has seen every user (or `max_s` have passed).
    """
    spent, steady = 0.0, 0
    while slice_s > 0:
        before = counters_read(directory) if directory else None
        load.run(url, requests, slice_s)
        spent += slice_s
        if directory is None or before is None or spent >= max_s:
            break
        missed = _miss_rate(counters_delta(before, counters_read(directory)))
        steady = steady + 1 if missed < WARM_MISSES else 0
        if steady == 2:
            break
    return spent
