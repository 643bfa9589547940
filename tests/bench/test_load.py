"""`wrk` sends requests that work once (DPoP proofs) at most once each, and says when it ran out."""

import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load import LoadGenerator, Request
from tests.conftest import require_service


class Recorder(BaseHTTPRequestHandler):
    """Answers 200 to every GET, and records each request's `X-Id`."""

    protocol_version = "HTTP/1.1"
    seen: Counter[str] = Counter()

    def do_GET(self) -> None:
        self.seen[self.headers["X-Id"]] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Nothing on stderr."""


class QuietServer(ThreadingHTTPServer):
    """Says nothing of the connections `wrk` drops when it stops."""

    def handle_error(self, request: object, client_address: object) -> None:
        """Nothing on stderr."""


@pytest.fixture
def server() -> Iterator[tuple[str, Counter[str]]]:
    """A recording server on a free port: its URL, and the ids it has seen."""
    require_service(shutil.which("wrk") is not None, "the bench loads its servers with wrk")
    Recorder.seen = Counter()
    httpd = QuietServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", Recorder.seen
    httpd.shutdown()
    httpd.server_close()


def requests(count: int) -> list[Request]:
    """`count` requests, each with an id of its own."""
    return [Request("/", {"X-Id": str(i)}) for i in range(count)]


def test_requests_that_work_once_are_each_sent_at_most_once(server):
    url, seen = server

    # More than a Lua function's constants, more than the recorder serves in a second.
    result = LoadGenerator().run(url, requests(70_000), 1, once=True)

    assert not result["exhausted"]
    assert result["requests"] > 0
    assert max(seen.values()) == 1


def test_a_run_that_sent_every_request_once_says_so(server):
    url, seen = server

    result = LoadGenerator().run(url, requests(4), 1, once=True)

    assert result["exhausted"]
    # wrk asks for one request before the run to check the script, and sends it never.
    assert set(seen) <= {"0", "1", "2", "3"}
