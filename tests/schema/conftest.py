"""A `make run` server (runserver, SQLite, the in-process cache) for the fuzzer, with its
throttles raised so that the logic behind them is reached, logins of each mode on it, and
Schemathesis's run of each mode over every operation.
"""

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from common.routes import JWT_COOKIE, MODE_ROUTES, MODES, SESSION, SHARED_ROUTES, api_prefix
from tests.live import BIN, RunServer
from tests.mail import SmtpServer, key_of
from tests.modes import PASSWORD
from tests.stack.clients import StackClient

# Over the product's limits, for this server only: the fuzzer's thousands of requests come
# from one address, a few accounts and a few addresses mailed. Logins stay fresh all the run.
FUZZ_ENV = {
    "MFA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "ACCOUNT_REQUESTS_PER_ADDRESS": "1000000",
    "ACCOUNT_MAILS_PER_EMAIL": "1000000",
    "LOGIN_FAILURES_PER_ADDRESS": "1000000",
    "LOGIN_FAILURES_PER_USERNAME": "1000000",
    "LOGIN_FAILURES_PER_DEVICE": "1000000",
    "REAUTH_WINDOW": "3600",
}


@dataclass(frozen=True)
class Credentials:
    """What the fuzzer sends with every request of a mode: its credential's headers."""

    mode: str
    headers: dict[str, str]


@dataclass
class FuzzSite:
    """The server the fuzzer targets, where accounts are made as a user makes one."""

    server: RunServer
    smtp: SmtpServer

    @property
    def schema_url(self) -> str:
        """Where the server serves its OpenAPI schema."""
        return self.shared_url("schema")

    def shared_url(self, endpoint: str) -> str:
        """The URL of a shared endpoint of the route table."""
        return self.server.url + api_prefix() + SHARED_ROUTES[endpoint]

    def login(self, mode: str) -> Credentials:
        """A new account, signed up and verified over HTTP, logged in through `mode`."""
        email = f"fuzz-{uuid.uuid4().hex[:10]}@example.com"
        base = self.server.url
        with httpx.Client(timeout=15) as http:
            body = {"username": email, "email": email, "password": PASSWORD}
            signup = http.post(self.shared_url("signup"), json=body)
            assert signup.status_code == 202, signup.text
            key = key_of(self.smtp.wait(email, 1)[0])
            verify = http.post(
                self.shared_url("email-verify"), json={"key": key, "password": PASSWORD}
            )
            assert verify.status_code == 200, verify.text
        agent = StackClient(mode)
        try:
            login = agent.login(base, email, PASSWORD)
            assert login.status_code == 200, login.text
            if mode == "jwt-header":
                return Credentials(mode, {"Authorization": f"Bearer {agent.tokens['access']}"})
            csrf = agent.csrf_token(base + api_prefix())
            cookies = "; ".join(f"{name}={value}" for name, value in agent.http.cookies.items())
            return Credentials(mode, {"Cookie": cookies, "X-CSRFToken": csrf})
        finally:
            agent.close()


CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    )
)
# The operations that end the login that calls them (or, refreshing a cookie login, make
# its cookies stale), as (method, route): each gets a throwaway account of its own.
DESTRUCTIVE = (
    ("POST", MODE_ROUTES[SESSION]["logout"]),
    ("POST", MODE_ROUTES[JWT_COOKIE]["logout"]),
    ("POST", MODE_ROUTES[JWT_COOKIE]["refresh"]),
    ("POST", SHARED_ROUTES["logout-all"]),
    ("DELETE", SHARED_ROUTES["account"]),
)
# Random cases per operation, after the schema-driven coverage phase's (the boundary and
# wrong-type bodies, the unexpected methods): 8 found nothing 4 did not, in twice the time.
MAX_EXAMPLES = 4
# Wall time of the modes' runs, far over what they take (some 40 s on two busy cores).
TIMEOUT = 300


def operation_name(method: str, route: str) -> str:
    """How Schemathesis names an operation: `METHOD /path`."""
    return f"{method} {api_prefix()}{route}"


def toml_headers(headers: dict[str, str]) -> str:
    """`headers` as an inline TOML table (a JSON string is a TOML basic string)."""
    pairs = ", ".join(f"{json.dumps(key)} = {json.dumps(value)}" for key, value in headers.items())
    return "{ " + pairs + " }"


def fuzz_config(credentials: Credentials, throwaway: dict[str, Credentials]) -> str:
    """A `schemathesis.toml`: the mode's credential on every operation but those named in
    `throwaway`, which carry their own; nothing kept between runs.
    """
    # runserver's answers reach a kept-alive connection some 40 ms late (tests/sites.py).
    lines = [
        f"headers = {toml_headers({'Connection': 'close', **credentials.headers})}",
        "[cache]",
        "enabled = false",
    ]
    for name, own in throwaway.items():
        lines += [
            "[[operations]]",
            f"include-name = {json.dumps(name)}",
            f"headers = {toml_headers(own.headers)}",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class FuzzRun:
    """Schemathesis fuzzing every operation in one mode's credentials, in its own process."""

    mode: str
    directory: Path
    process: subprocess.Popen[bytes] = field(init=False)
    started: float = field(init=False)

    def start(self, site: FuzzSite, config: str) -> "FuzzRun":
        """Start the run against `site` with `config` (a `schemathesis.toml`)."""
        config_path = self.directory / "schemathesis.toml"
        config_path.write_text(config)
        args = [
            str(BIN / "schemathesis"),
            f"--config-file={config_path}",
            "run",
            site.schema_url,
            f"--checks={CHECKS}",
            "--phases=examples,coverage,fuzzing",
            f"--max-examples={MAX_EXAMPLES}",
            # One request at a time: Schemathesis's worker threads meet CPython 3.11's
            # thread-unsafe `ast.parse` (a SystemError); the modes run in parallel instead.
            "--workers=1",
            "--seed=20",
            "--no-color",
            "--warnings=off",
            "--request-timeout=15",
            # The credential is ours, in fixed headers: a case "without the cookie" would
            # still carry it.
            "--generation-with-security-parameters=false",
            "--report=json",
            f"--report-json-path={self.report_path}",
        ]
        self.started = time.monotonic()
        with self.output_path.open("wb") as output:
            self.process = subprocess.Popen(
                args, stdout=output, stderr=subprocess.STDOUT, cwd=self.directory
            )
        return self

    @property
    def output_path(self) -> Path:
        """Where the run writes what it prints."""
        return self.directory / "output.txt"

    @property
    def report_path(self) -> Path:
        """Where the run writes its JSON report."""
        return self.directory / "report.json"

    def report(self) -> dict[str, Any]:
        """The run's JSON report, once it ended with no failure."""
        returncode = self.process.wait(timeout=max(1, self.started + TIMEOUT - time.monotonic()))
        output = self.output_path.read_text(errors="replace")
        assert returncode == 0, output[-20000:]
        report: dict[str, Any] = json.loads(self.report_path.read_text())
        return report

    def stop(self) -> None:
        """End the run if it still goes on."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def fuzz_site(
    smtp_server: SmtpServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzSite]:
    """`make run`'s configuration with raised throttles, its mail to the tests' SMTP server."""
    env = {**smtp_server.env, **FUZZ_ENV}
    server = RunServer(tmp_path_factory.mktemp("fuzz"), **env).start()
    try:
        yield FuzzSite(server, smtp_server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fuzz_runs(
    fuzz_site: FuzzSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, FuzzRun]]:
    """Each mode's run, all started at once: a login of the mode on every operation, but a
    throwaway login of its own on each destructive one.
    """
    runs: dict[str, FuzzRun] = {}
    try:
        for mode in MODES:
            credentials = fuzz_site.login(mode)
            throwaway = {operation_name(*op): fuzz_site.login(mode) for op in DESTRUCTIVE}
            run = FuzzRun(mode, tmp_path_factory.mktemp(f"fuzz-{mode}"))
            runs[mode] = run.start(fuzz_site, fuzz_config(credentials, throwaway))
        yield runs
    finally:
        for run in runs.values():
            run.stop()
