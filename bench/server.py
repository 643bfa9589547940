"""The real servers, as deployed: gunicorn, DEBUG off, the same flags for every one."""

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.env import ROOT, BenchEnv
from bench.processes import ServerProcess, free_port, http_answer

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Project:
    """What a server serves: a settings module, its WSGI module, a path that answers 200,
    and the environment variables that set it apart.
    """

    settings: str
    wsgi: str
    ready_path: str
    env: tuple[tuple[str, str], ...] = ()
    # After the run's cache key prefix: a deployment's own keys, which no other server writes.
    keys: str = ""

    def environ(self, env: BenchEnv) -> dict[str, str]:
        """The environment variables that set it apart, in the run `env`."""
        return {"CACHE_KEY_PREFIX": env.cache_prefix + self.keys, **dict(self.env)}

    @property
    def name(self) -> str:
        """The settings module's, and the environment's values."""
        return "-".join([self.settings.replace(".", "-"), *(value for _, value in self.env)])


DUALAUTH = Project("project.settings", "project.wsgi", "/api/health/")
# The `push` revocation level (SECURITY.md): a server of its own, where Redis is, on keys of
# its own, as a deployment runs one level: on the `strict` server's keys, its processes kept
# refilling the principals both read (a SET and a PUBLISH for one request in seven, half
# their reads from Redis), at 0.5-1 ms of database and Redis CPU per request against
# 0.01-0.04 ms on their own.
DUALAUTH_PUSH = Project(
    "project.settings", "project.wsgi", "/api/health/", (("REVOCATION", "push"),), "-push"
)
STOCK = Project("bench.stock.settings", "bench.stock.wsgi", "/constant/")
STOCK_CACHE = Project("bench.stock.settings_cache", "bench.stock.wsgi", "/constant/")
STOCK_CACHED_DB = Project("bench.stock.settings_cached_db", "bench.stock.wsgi", "/constant/")


class BenchServer(ServerProcess):
    """gunicorn serving one project of the run, started and stopped by PID."""

    def __init__(
        self, env: BenchEnv, project: Project, *, name: str, workers: int, threads: int, **envs: str
    ) -> None:
        self.project = project
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.worker_class = "gthread" if threads > 1 else "sync"
        self.log_path = env.tmpdir / f"{name}-{self.port}.log"
        self.env = env.server_env(project.settings, **project.environ(env), **envs)
        self.args = [str(BIN / "gunicorn"), project.wsgi, f"--bind=127.0.0.1:{self.port}"]
        self.args += [f"--workers={workers}", f"--threads={threads}", "--keep-alive=30"]
        self.args += [f"--worker-class={self.worker_class}", "--timeout=60", "--graceful-timeout=2"]

    @property
    def pid(self) -> int:
        """The gunicorn master's process id."""
        assert self.process is not None, "the server is running"
        return self.process.pid

    def start(self, timeout: float = 90.0) -> "BenchServer":
        """Start gunicorn and wait until it answers."""
        # A worker's first answer may take seconds on a loaded machine.
        ready = f"{self.url}{self.project.ready_path}"
        answered = lambda: http_answer(ready, accept={200}, timeout=10)  # noqa: E731
        self._launch(self.args, answered, timeout=timeout, cwd=ROOT, env=self.env)
        return self


def servers_start(servers: list[BenchServer]) -> None:
    """Start every server at once, and wait until each answers."""
    with ThreadPoolExecutor(len(servers)) as pool:
        for future in [pool.submit(server.start) for server in servers]:
            future.result()


def servers_stop(servers: list[BenchServer]) -> None:
    """Stop every server at once, and wait until each has."""
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda server: server.stop(), servers))
