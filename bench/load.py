"""Load generation: `wrk` when installed, else a small httpx/threads generator, labelled as such."""

import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass

import httpx

WRK_INSTALL_HINT = (
    "wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`"
)
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass(frozen=True)
class LoadResult:
    """One timed run against one endpoint."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def as_dict(self) -> dict[str, float | int]:
        """A JSON-ready copy."""
        return asdict(self)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip()).groups()  # type: ignore[union-attr]
    return float(number) * UNITS_MS[unit]


def wrk_version() -> str | None:
    """`wrk`'s version line, or None when it is not installed."""
    path = shutil.which("wrk")
    if path is None:
        return None
    done = subprocess.run([path, "-v"], capture_output=True, text=True, check=False)  # noqa: S603
    first = (done.stdout + done.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else "wrk"


class LoadGenerator:
    """Drives one URL with a fixed number of connections for a fixed time."""

    def __init__(self, *, connections: int, threads: int, force_python: bool = False) -> None:
        self.connections = connections
        self.threads = threads
        self.wrk = None if force_python else shutil.which("wrk")
        version = None if force_python else wrk_version()
        self.label = version or "python-httpx fallback (not wrk: numbers are not comparable)"

    def run(self, url: str, headers: dict[str, str], duration: float) -> LoadResult:
        """Load `url` for `duration` seconds."""
        if self.wrk:
            return self._wrk(url, headers, duration)
        return self._python(url, headers, duration)

    def _wrk(self, url: str, headers: dict[str, str], duration: float) -> LoadResult:
        assert self.wrk is not None
        args = [
            self.wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{max(1, round(duration))}s",
            "--latency",
            "--timeout=10s",
        ]
        for name, value in headers.items():
            args += ["-H", f"{name}: {value}"]
        out = subprocess.run(  # noqa: S603
            [*args, url], capture_output=True, text=True, check=True
        ).stdout
        percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
        requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        sockets = re.search(r"Socket errors: (.*)$", out, re.MULTILINE)
        errors = int(non_2xx.group(1)) if non_2xx else 0
        if sockets:
            errors += sum(int(n) for n in re.findall(r"\d+", sockets.group(1)))
        return LoadResult(
            rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            p50_ms=_ms(percentiles["50"]),
            p99_ms=_ms(percentiles["99"]),
            requests=requests,
            errors=errors,
        )

    def _python(self, url: str, headers: dict[str, str], duration: float) -> LoadResult:
        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        deadline = time.monotonic() + duration

        def worker() -> None:
            mine: list[float] = []
            failed = 0
            with httpx.Client(headers=headers, timeout=10) as client:
                while time.monotonic() < deadline:
                    start = time.perf_counter()
                    try:
                        ok = client.get(url).status_code < 400
                    except httpx.HTTPError:
                        ok = False
                    mine.append((time.perf_counter() - start) * 1000)
                    failed += not ok
            with lock:
                latencies.extend(mine)
                errors[0] += failed

        started = time.monotonic()
        workers = [threading.Thread(target=worker) for _ in range(self.connections)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        elapsed = time.monotonic() - started
        cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
        return LoadResult(
            rps=len(latencies) / elapsed,
            p50_ms=cuts[49],
            p99_ms=cuts[98],
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
