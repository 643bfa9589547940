"""CPU time the servers spend: user + system time from /proc, read before and after a run.

The figure moves far less than throughput on a shared machine: a busy neighbour slows
the requests down, but hardly changes what each one costs. Linux only; elsewhere None.
"""

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """The parent pid and the user + system seconds of process `pid`; None once it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces: fields are counted after it.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def processes_cpu(pids: list[int]) -> dict[int, float]:
    """User + system seconds of each of the processes `pids` still alive."""
    return {pid: stat[1] for pid in pids if (stat := _stat(pid)) is not None}


def tree_pids(root: int) -> list[int]:
    """`root` and its children: a gunicorn master and its workers."""
    children = []
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] == root:
            children.append(int(entry.name))
    return [root, *children]


def backend_pids() -> list[int]:
    """The PostgreSQL server processes serving the bench's database, this process's excepted."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def redis_cpu(redis_url: str) -> float:
    """User + system seconds of the Redis server (all of it: whatever else uses it counts)."""
    if not redis_url:
        return 0.0
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


# Below this share of one core, a server is taken as idle.
IDLE_SHARE = 0.1


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds so far of each server process, database server process, and Redis."""

    server: dict[int, float]
    database: dict[int, float]
    redis: float

    def since(self, before: "CpuSample") -> tuple[float, float]:
        """Seconds spent since `before`: by the server, and by its database and Redis.

        Per process, so that one started in between counts from zero and one gone is
        left out rather than subtracted.
        """

        def spent(now: dict[int, float], then: dict[int, float]) -> float:
            return sum(seconds - then.get(pid, 0.0) for pid, seconds in now.items())

        return (
            spent(self.server, before.server),
            spent(self.database, before.database) + self.redis - before.redis,
        )


def cpu_sample(server_pid: int, redis_url: str) -> CpuSample | None:
    """The CPU seconds so far of the server rooted at `server_pid`, and of its backends."""
    if not PROC.is_dir():
        return None
    return CpuSample(
        server=processes_cpu(tree_pids(server_pid)),
        database=processes_cpu(backend_pids()),
        redis=redis_cpu(redis_url),
    )


def server_idle_wait(server_pid: int, *, timeout: float = 60.0, interval: float = 0.25) -> bool:
    """Wait until the server rooted at `server_pid` uses under IDLE_SHARE of a core; False if not.

    A load generator that stops leaves the requests it abandoned queued in the server:
    until they are done, what is measured next would measure them too.
    """
    deadline = time.monotonic() + timeout
    before = processes_cpu(tree_pids(server_pid))
    while time.monotonic() < deadline:
        threading.Event().wait(interval)
        now = processes_cpu(tree_pids(server_pid))
        busy = sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())
        if busy < IDLE_SHARE * interval:
            return True
        before = now
    return False
