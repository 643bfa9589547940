"""Load generation with `wrk`; without it, the bench says how to install it and stops.

A run sends a list of requests in turn, each connection the next one, from a random place
in the list: with one credential per user, runs spread over as many users as the list
holds (bench/requests.lua).
"""

import itertools
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

WRK_INSTALL_HINT = (
    "wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`"
)
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
LUA_SCRIPT = Path(__file__).resolve().parent / "requests.lua"
# Lua's long brackets quote any text without escapes, unless the text holds the closing one.
LUA_CLOSE = "]==]"
LUA_ROWS = 10_000


@dataclass(frozen=True)
class Request:
    """One request a load run sends: a path, its headers, and for a POST, a body."""

    path: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: str = ""


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
    # A Lua function holds at most 65,536 constants: a function a slice of the rows.
    chunks = (",\n".join(rows[i : i + LUA_ROWS]) for i in range(0, len(rows), LUA_ROWS))
    functions = ",\n".join(f"function() return {{\n{chunk}\n}} end" for chunk in chunks)
    return (
        f"local rows = {{}}\nfor _, chunk in ipairs({{\n{functions}\n}}) do\n"
        "  for _, row in ipairs(chunk()) do rows[#rows + 1] = row end\nend\nreturn rows\n"
    )


class LoadGenerator:
    """Drives one server with `wrk`, a fixed number of connections for a fixed time."""

    connections = 8
    threads = 2

    def __init__(self) -> None:
        self.wrk = shutil.which("wrk") or sys.exit(WRK_INSTALL_HINT)
        done = subprocess.run([self.wrk, "-v"], capture_output=True, text=True, check=False)  # noqa: S603
        self.label = (done.stdout + done.stderr).strip().split(" [")[0] or "wrk"

    def warm(self, base_url: str, requests: Sequence[Request]) -> None:
        """One pass over `requests`, over as many kept-alive connections; each must answer 200.

        Every credential has then been seen by the server, and checked to work.
        """

        def send(share: Sequence[Request]) -> None:
            with httpx.Client(base_url=base_url, timeout=30) as client:
                for r in share:
                    response = client.request(
                        r.method, r.path, headers=r.headers, content=r.body or None
                    )
                    if response.status_code != 200:
                        raise SystemExit(f"{r.path}: {response.status_code} {response.text[:200]}")

        shares = [requests[i :: self.connections] for i in range(self.connections)]
        with ThreadPoolExecutor(self.connections) as pool:
            list(pool.map(send, shares))

    def run(
        self, base_url: str, requests: Sequence[Request], duration: float, *, once: bool = False
    ) -> dict[str, Any]:
        """Send `requests` in turn to the server at `base_url` for `duration` seconds: req/s,
        p50 and p99 latency (None when no request was answered in time), requests, errors.

        With `once`, each request is sent at most once (a share of the list a `wrk` thread);
        `exhausted` says whether a thread reached the end of its share before the time.
        """
        assert requests, "a run needs at least one request"
        with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-requests-") as data:
            data.write(lua_requests(requests))
            data.flush()
            args = [self.wrk, f"-t{self.threads}", f"-c{self.connections}", "--timeout=10s"]
            args += [f"-d{max(1, round(duration))}s", "--latency", f"--script={LUA_SCRIPT}"]
            # The script's arguments: the list, the threads sharing it, where the run starts.
            start = random.randrange(len(requests))  # noqa: S311
            args += [f"{base_url}{requests[0].path}", "--", data.name, str(self.threads)]
            args += [str(start), "once" if once else "cycle"]
            done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        out = done.stdout
        percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
        requests_done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        failed = re.findall(r"^\s*(?:Non-2xx or 3xx responses|Socket errors): (.*)$", out, re.M)
        errors = sum(int(n) for line in failed for n in re.findall(r"\d+", line))
        return {
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50_ms": _ms(percentiles["50"]) if "50" in percentiles else None,
            "p99_ms": _ms(percentiles["99"]) if "99" in percentiles else None,
            "requests": requests_done,
            "errors": errors,
            **({"exhausted": "requests exhausted" in out} if once else {}),
        }


def progress(total: int) -> Callable[[str], None]:
    """A step's announcer: one line on stderr a step, how many are done, and the time so far."""
    started, done = time.monotonic(), itertools.count()

    def step(label: str) -> None:
        elapsed = time.monotonic() - started
        print(f"[{next(done)}/{total} {elapsed:5.0f}s] {label}", file=sys.stderr, flush=True)

    return step
