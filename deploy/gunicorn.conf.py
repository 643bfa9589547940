"""gunicorn in production: `gunicorn --config deploy/gunicorn.conf.py project.wsgi`.

Before any worker starts, Django's deployment checks run in a child process; an
error (a missing SECRET_KEY or JWT_SIGNING_KEY, a weak key) stops gunicorn with
the message and a non-zero exit, instead of workers that fail on every request.
So does more than one worker on a cache each process keeps to itself.

The workers keep their Prometheus metrics in files of one directory, which `/metrics`
sums (prometheus-client's multiprocess mode): PROMETHEUS_MULTIPROC_DIR, emptied at
start, else a fresh one, removed at exit.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from prometheus_client import multiprocess

ROOT = Path(__file__).resolve().parent.parent
# The values project/settings.py's `env_bool` reads as true.
TRUE = frozenset({"1", "true", "yes", "on"})

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 10
# Longer than nginx's upstream keepalive_timeout (60 s): the proxy, not gunicorn, closes an
# idle connection, so no request is ever sent on a connection the server is closing.
keepalive = 75
# Recycle workers now and then, staggered, so that no leak grows without bound.
max_requests = 10000
max_requests_jitter = 1000
# The heartbeat file on tmpfs: an overlay filesystem can stall it and get workers killed.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108
# No control socket: nothing uses it, and the app user has no home directory to hold it.
control_socket_disable = True
# The variable prometheus-client reads; the directory gunicorn made for it, if it did.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_metrics_dir_made: list[str] = []
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def env_setting(name: str) -> str:
    """The variable `name` as project/settings.py reads it: the environment, else `.env`."""
    value = os.environ[name] if name in os.environ else dotenv_values(ROOT / ".env").get(name)
    return (value or "").strip()


def on_starting(server: Any) -> None:
    """Refuse to start on a failed deploy check, or on more workers than a local cache allows."""
    allowed = env_setting("ALLOW_PROCESS_LOCAL_CACHE").lower() in TRUE
    if allowed and not env_setting("REDIS_URL") and server.cfg.workers > 1:
        server.log.error(
            "refusing to start: ALLOW_PROCESS_LOCAL_CACHE without REDIS_URL allows one worker, "
            "not %d (set WEB_CONCURRENCY=1, or REDIS_URL)",
            server.cfg.workers,
        )
        sys.exit(1)
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        server.log.error("refusing to start, the deployment checks failed:\n%s", output)
        sys.exit(1)
    if "WARNINGS" in output:
        server.log.warning("deployment checks:\n%s", output)
    metrics_dir_prepare()


def metrics_dir_prepare() -> None:
    """An empty metrics directory for the workers, named in the environment they inherit."""
    path = os.environ.get(METRICS_DIR_VARIABLE)
    if not path:
        path = tempfile.mkdtemp(prefix="dualauth-metrics-", dir=worker_tmp_dir)
        _metrics_dir_made.append(path)
        os.environ[METRICS_DIR_VARIABLE] = path
    Path(path).mkdir(parents=True, exist_ok=True)
    # A previous run's files would add its counts to this one's.
    for stale in Path(path).glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges; its counters stay, counted as they were."""
    if os.environ.get(METRICS_DIR_VARIABLE):
        multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the metrics directory gunicorn made for this run."""
    for path in _metrics_dir_made:
        shutil.rmtree(path, ignore_errors=True)
