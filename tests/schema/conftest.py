"""A `make run` server (runserver, SQLite, the in-process cache) for the fuzzer, with its
throttles raised so that the logic behind them is reached, and logins of each mode on it.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from cryptography.fernet import Fernet

from common.conf import dualauth_settings
from common.routes import SHARED_ROUTES
from tests.live import RunServer
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
        return self.server.url + dualauth_settings.API_PREFIX + SHARED_ROUTES[endpoint]

    def login(self, mode: str) -> Credentials:
        """A new account, signed up and verified over HTTP, logged in through `mode`."""
        email = f"fuzz-{uuid.uuid4().hex[:10]}@example.com"
        base = self.server.url
        with httpx.Client(timeout=15) as http:
            body = {"username": email, "email": email, "password": PASSWORD}
            signup = http.post(self.shared_url("signup"), json=body)
            assert signup.status_code == 202, signup.text
            key = key_of(self.smtp.wait(email, 1)[0])
            verify = http.post(self.shared_url("email-verify"), json={"key": key})
            assert verify.status_code == 200, verify.text
        agent = StackClient(mode)
        try:
            login = agent.login(base, email, PASSWORD)
            assert login.status_code == 200, login.text
            if mode == "jwt-header":
                return Credentials(mode, {"Authorization": f"Bearer {agent.tokens['access']}"})
            csrf = agent.csrf_token(base + dualauth_settings.API_PREFIX)
            cookies = "; ".join(f"{name}={value}" for name, value in agent.http.cookies.items())
            return Credentials(mode, {"Cookie": cookies, "X-CSRFToken": csrf})
        finally:
            agent.close()


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
