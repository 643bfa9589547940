"""CPU time the servers spend: user + system time from /proc, read before and after a run.

The figure moves far less than throughput on a shared machine: a busy neighbour slows
the requests down, but hardly changes what each one costs. Linux only; elsewhere None.
"""

import os
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# CPU seconds so far of each process by pid, and of Redis (-1).
Sample = dict[int, float]


def _stat(pid: str) -> tuple[int, float] | None:
    """The parent pid and the user + system seconds of process `pid`; None once it is gone."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces: fields are counted after it.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def server_cpu(root: int) -> Sample:
    """User + system seconds of `root` and its children: a gunicorn master and its workers.

    Empty without /proc.
    """
    if not PROC.is_dir():
        return {}
    stats = {int(p.name): _stat(p.name) for p in PROC.iterdir() if p.name.isdigit()}
    return {pid: s[1] for pid, s in stats.items() if s and (pid == root or s[0] == root)}


def backends_cpu(redis_url: str) -> Sample:
    """User + system seconds of the PostgreSQL processes serving the bench's database (this
    process's excepted), and of the Redis server (all of it: whatever else uses it counts).
    """
    import redis
    from django.db import connection

    seconds: Sample = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            pids = [str(row[0]) for row in cursor.fetchall()]
        seconds = {int(pid): stat[1] for pid in pids if (stat := _stat(pid))}
    if redis_url:
        with redis.Redis.from_url(redis_url) as client:
            info = client.info("cpu")
        seconds[-1] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return seconds


def spent(before: Sample, after: Sample) -> float:
    """Seconds spent between two samples: a process started in between counts from zero,
    one gone is left out rather than subtracted.
    """
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
