"""A real server process on a free port: gunicorn over the test database."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from django.conf import settings

from bench.server import process_stop

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """A URL naming the database the tests use (the test database, once set up)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class LiveServer:
    """gunicorn serving this project, started and stopped by PID."""

    def __init__(self, *, workers: int = 2, threads: int = 4, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
            "DEBUG": "false",
            **env,
        }
        self.args = [
            str(BIN / "gunicorn"),
            "project.wsgi",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={workers}",
            f"--threads={threads}",
            "--worker-class=gthread",
            "--timeout=30",
            "--graceful-timeout=2",
        ]
        self.process: subprocess.Popen[bytes] | None = None
        fd, log_path = tempfile.mkstemp(prefix="dualauth-server-", suffix=".log")
        os.close(fd)
        self.log_path = Path(log_path)

    def start(self, timeout: float = 20.0) -> "LiveServer":
        """Start the server and wait until its health endpoint answers."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}:\n{self.log_text()}"
                )
            try:
                if httpx.get(f"{self.url}/api/health/", timeout=1).status_code in (200, 503):
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server on {self.url} did not answer within {timeout} s")

    def log_text(self) -> str:
        """Everything the server wrote, audit records included."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server by its PID and wait for it."""
        if self.process is None:
            return
        process_stop(self.process)
        self.process = None
