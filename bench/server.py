"""The real server, as deployed: gunicorn, DEBUG off, a few workers, started and stopped by PID."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.env import ROOT, BenchEnv

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_stop(process: "subprocess.Popen[bytes]") -> None:
    """Terminate `process`, kill it if it lingers, and reap it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class BenchServer:
    """gunicorn serving `bench.settings` (the product's routes plus the bench-only ones)."""

    def __init__(self, env: BenchEnv, *, workers: int, threads: int, name: str = "server") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.threads = threads
        self.worker_class = "gthread" if threads > 1 else "sync"
        self.log_path = env.tmpdir / f"{name}-{self.port}.log"
        self.env = env.server_env()
        self.process: subprocess.Popen[bytes] | None = None

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
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{self.url}/bench/constant/", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server on {self.url} did not answer within {timeout} s")

    def stop(self) -> None:
        """Stop gunicorn by its PID."""
        if self.process is None:
            return
        process_stop(self.process)
        self.process = None

    def __enter__(self) -> "BenchServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
