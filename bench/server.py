"""The real server, as deployed: gunicorn, DEBUG off, a few workers, started and stopped by PID."""

import sys
from pathlib import Path

from bench.env import ROOT, BenchEnv
from bench.processes import ServerProcess, free_port, http_answer

BIN = Path(sys.executable).parent


class BenchServer(ServerProcess):
    """gunicorn serving `bench.settings` (the product's routes plus the bench-only ones)."""

    def __init__(self, env: BenchEnv, *, workers: int, threads: int, name: str = "server") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.threads = threads
        self.worker_class = "gthread" if threads > 1 else "sync"
        self.log_path = env.tmpdir / f"{name}-{self.port}.log"
        self.env = env.server_env()

    def start(self, timeout: float = 30.0) -> "BenchServer":
        """Start gunicorn and wait until it answers."""
        args = [
            str(BIN / "gunicorn"),
            "project.wsgi",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={self.workers}",
            f"--threads={self.threads}",
            f"--worker-class={self.worker_class}",
            "--timeout=60",
            "--graceful-timeout=2",
            "--keep-alive=30",
        ]
        self._launch(
            args,
            lambda: http_answer(f"{self.url}/bench/constant/", accept={200}),
            timeout=timeout,
            cwd=ROOT,
            env=self.env,
        )
        return self

    def __enter__(self) -> "BenchServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
