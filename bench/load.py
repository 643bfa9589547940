"""Load generation: `wrk` when installed, else a small httpx/threads generator, labelled as such.

A run sends a list of requests in turn, each connection the next one, from a random place
in the list: with one credential per user, runs spread over as many users as the list
holds (bench/requests.lua).
"""

import itertools
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

WRK_INSTALL_HINT = (
    "wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`"
)
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
LUA_SCRIPT = Path(__file__).resolve().parent / "requests.lua"
# Lua's long brackets quote any text without escapes, unless the text holds the closing one.
LUA_CLOSE = "]==]"


@dataclass(frozen=True)
class Request:
    """One request a load run sends: a path, its headers, and for a POST, a body."""

    path: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: str = ""


@dataclass(frozen=True)
class LoadResult:
    """One timed run against one endpoint; no latencies when no request was answered in time."""

    rps: float
    p50_ms: float | None
    p99_ms: float | None
    requests: int
    errors: int

    def as_dict(self) -> dict[str, float | int]:
        """A JSON-ready copy."""
        return asdict(self)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip()).groups()  # type: ignore[union-attr]
    return float(number) * UNITS_MS[unit]


def _lua_string(text: str) -> str:
    assert LUA_CLOSE not in text, text
    return f"[==[{text}{LUA_CLOSE}"


def lua_requests(requests: Sequence[Request]) -> str:
    """`requests` as a Lua chunk returning {method, path, headers, body} tables."""
    rows = []
    for request in requests:
        headers = ", ".join(
            f"[ {_lua_string(name)} ] = {_lua_string(value)}"
            for name, value in request.headers.items()
        )
        body = _lua_string(request.body) if request.body else "nil"
        rows.append(
            f"{{{_lua_string(request.method)}, {_lua_string(request.path)}, {{{headers}}}, {body}}}"
        )
    return "return {\n" + ",\n".join(rows) + "\n}\n"


def wrk_version() -> str | None:
    """`wrk`'s version line, or None when it is not installed."""
    path = shutil.which("wrk")
    if path is None:
        return None
    done = subprocess.run([path, "-v"], capture_output=True, text=True, check=False)  # noqa: S603
    first = (done.stdout + done.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else "wrk"


class LoadGenerator:
    """Drives one server with a fixed number of connections for a fixed time."""

    def __init__(self, *, connections: int, threads: int, force_python: bool = False) -> None:
        self.connections = connections
        self.threads = threads
        self.wrk = None if force_python else shutil.which("wrk")
        version = None if force_python else wrk_version()
        self.label = version or "python-httpx fallback (not wrk: numbers are not comparable)"

    def run(self, base_url: str, requests: Sequence[Request], duration: float) -> LoadResult:
        """Send `requests` in turn to the server at `base_url` for `duration` seconds."""
        assert requests, "a run needs at least one request"
        if self.wrk:
            return self._wrk(base_url, requests, duration)
        return self._python(base_url, requests, duration)

    def _wrk(self, base_url: str, requests: Sequence[Request], duration: float) -> LoadResult:
        assert self.wrk is not None
        with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-requests-") as data:
            data.write(lua_requests(requests))
            data.flush()
            args = [
                self.wrk,
                f"-t{self.threads}",
                f"-c{self.connections}",
                f"-d{max(1, round(duration))}s",
                "--latency",
                "--timeout=10s",
                f"--script={LUA_SCRIPT}",
                f"{base_url}{requests[0].path}",
                "--",
                data.name,
                str(self.threads),
                str(random.randrange(len(requests))),  # noqa: S311
            ]
            done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        out = done.stdout
        percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
        requests_done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        sockets = re.search(r"Socket errors: (.*)$", out, re.MULTILINE)
        errors = int(non_2xx.group(1)) if non_2xx else 0
        if sockets:
            errors += sum(int(n) for n in re.findall(r"\d+", sockets.group(1)))
        return LoadResult(
            rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            p50_ms=_ms(percentiles["50"]) if "50" in percentiles else None,
            p99_ms=_ms(percentiles["99"]) if "99" in percentiles else None,
            requests=requests_done,
            errors=errors,
        )

    def _python(self, base_url: str, requests: Sequence[Request], duration: float) -> LoadResult:
        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        deadline = time.monotonic() + duration
        stride = max(1, len(requests) // self.connections)
        start = random.randrange(len(requests))  # noqa: S311

        def worker(offset: int) -> None:
            mine: list[float] = []
            failed = 0
            turn = itertools.islice(itertools.cycle(requests), start + offset * stride, None)
            with httpx.Client(base_url=base_url, timeout=10) as client:
                while time.monotonic() < deadline:
                    request = next(turn)
                    sent = time.perf_counter()
                    try:
                        response = client.request(
                            request.method,
                            request.path,
                            headers=request.headers,
                            content=request.body or None,
                        )
                        ok = response.status_code < 400
                    except httpx.HTTPError:
                        ok = False
                    mine.append((time.perf_counter() - sent) * 1000)
                    failed += not ok
            with lock:
                latencies.extend(mine)
                errors[0] += failed

        started = time.monotonic()
        workers = [threading.Thread(target=worker, args=(i,)) for i in range(self.connections)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        elapsed = time.monotonic() - started
        cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
        return LoadResult(
            rps=len(latencies) / elapsed,
            p50_ms=cuts[49] if cuts else None,
            p99_ms=cuts[98] if cuts else None,
            requests=len(latencies),
            errors=errors[0],
        )


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, width: int = 30) -> None:
        self.total = max(1, total)
        self.done = 0
        self.width = width
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()

    def step(self, label: str) -> None:
        """Announce the next unit of work."""
        filled = int(self.width * self.done / self.total)
        elapsed = time.monotonic() - self.started
        line = (
            f"[{'#' * filled}{'-' * (self.width - filled)}] {self.done}/{self.total} "
            f"{elapsed:5.0f}s {label}"
        )
        if self.tty:
            sys.stderr.write(f"\r\033[K{line}")
        else:
            sys.stderr.write(f"{line}\n")
        sys.stderr.flush()
        self.done += 1

    def finish(self) -> None:
        """End the bar."""
        self.done = self.total
        self.step("done")
        if self.tty:
            sys.stderr.write("\n")
