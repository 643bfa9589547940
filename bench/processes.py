"""Child processes of the benchmark and the tests: free ports, start, wait until answering, stop."""

import signal
import socket
import subprocess
import time
from collections.abc import Callable, Container, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import redis

T = TypeVar("T")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_start(args: Sequence[str], log_path: Path, **popen: Any) -> "subprocess.Popen[bytes]":
    """Start `args` with its output and errors appended to `log_path`; `popen`: Popen's `cwd`,
    `env`.
    """
    with log_path.open("ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **popen)  # noqa: S603


def process_stop(process: "subprocess.Popen[bytes]") -> None:
    """Terminate `process`, kill it if it lingers, and reap it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def first_answer(
    process: "subprocess.Popen[bytes]",
    ask: Callable[[], T | None],
    *,
    log_path: Path,
    timeout: float,
    interval: float = 0.1,
) -> T:
    """`ask()`'s first answer but None; if `process` exits or `timeout` passes first, raise."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        answer = ask()
        if answer is not None:
            return answer
        time.sleep(interval)
    # The log says why: a port in use, a failed check, a missing setting.
    log = log_path.read_text(errors="replace")
    if process.poll() is not None:
        raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{log}")
    raise RuntimeError(f"{process.args!r} did not answer within {timeout} s:\n{log}")


def http_answer(
    url: str, *, accept: Container[int] | None = None, timeout: float = 2.0
) -> httpx.Response | None:
    """`url`'s answer to a GET; None until something answers there with a status in `accept`."""
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.TransportError:
        return None
    return response if accept is None or response.status_code in accept else None


class ServerProcess:
    """A server run as a child process: started until it answers, stopped by PID."""

    log_path: Path
    process: "subprocess.Popen[bytes] | None" = None

    def _launch(
        self, args: Sequence[str], ask: Callable[[], object], *, timeout: float, **popen: Any
    ) -> None:
        """Start `args`, logging to `log_path`, and wait for `ask()`'s first answer but None;
        else stop. `popen`: Popen's `cwd`, `env`, and `interval`, seconds between asks.
        """
        interval = popen.pop("interval", 0.1)
        self.process = process_start(args, self.log_path, **popen)
        try:
            first_answer(
                self.process, ask, log_path=self.log_path, timeout=timeout, interval=interval
            )
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server by its PID and wait for it."""
        if self.process is None:
            return
        process_stop(self.process)
        self.process = None


class RedisServer(ServerProcess):
    """A throwaway redis-server on a port of its own, without persistence, stopped by PID."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log_path = log_path

    def client(self) -> redis.Redis:
        """A client of this server."""
        return redis.Redis(port=self.port, socket_timeout=2)

    def start(self, timeout: float = 10.0) -> "RedisServer":
        """Start the server (again, on the same port) and wait until it answers."""
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self._launch(args, self._pong, timeout=timeout, interval=0.05)
        return self

    def _pong(self) -> bool | None:
        """True once the server answers a PING; None before."""
        try:
            return True if self.client().ping() else None
        except redis.ConnectionError:
            return None

    def pause(self) -> None:
        """Stop the process (SIGSTOP): a node that answers nothing and keeps its data."""
        assert self.process is not None, "the server is running"
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused process go on (SIGCONT); a running one is unaffected."""
        assert self.process is not None, "the server is running"
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server by its PID, resumed first: a paused process ends only when killed."""
        if self.process is not None:
            self.resume()
        super().stop()
