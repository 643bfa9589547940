"""Fixtures of the client tests: real servers, clients of them, and a clock the tests move."""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User
from rest_framework_simplejwt import settings as simplejwt_settings

from clients.mobile import DualauthClient, FileTokenStore
from clients.mobile.client import REFRESH_PATH
from tests.conftest import require_shared_cache
from tests.jwt_keys import jws_sign, segment_decode
from tests.live import LiveServer


@pytest.fixture(scope="session")
def token_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A real server; its token lifetimes come from the environment, as the tests' settings do."""
    # Its workers share failed logins and revocations, and each test resets them.
    require_shared_cache()
    return live_server_factory()


@pytest.fixture(scope="session")
def strict_throttle(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A real server that throttles a username after 2 failed logins."""
    require_shared_cache()
    return live_server_factory(LOGIN_FAILURES_PER_USERNAME="2")


class Traffic:
    """What a client sent and received, recorded by httpx event hooks."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.received: list[tuple[str, int]] = []

    def hooks(self) -> dict[str, list[Callable[..., object]]]:
        """Event hooks for an httpx client."""
        return {"request": [self.sent.append], "response": [self._received]}

    def _received(self, response: httpx.Response) -> None:
        self.received.append((response.request.url.path, response.status_code))

    def refreshes(self) -> list[str]:
        """The refresh tokens of the refresh requests sent, in order."""
        return [
            json.loads(request.content)["refresh"]
            for request in self.sent
            if request.url.path == REFRESH_PATH
        ]

    def clear(self) -> None:
        """Forget what was recorded."""
        self.sent.clear()
        self.received.clear()


class ManualClock:
    """A Unix clock that stands still until a test moves it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def move_to(self, when: float) -> None:
        """Make it `when` from now on."""
        self.now = when


def expired_copy(token: str) -> str:
    """`token` with its `exp` moved back to its `iat`, signed with the server's key."""
    head, body, _ = token.split(".")
    header, claims = segment_decode(head), segment_decode(body)
    key = simplejwt_settings.api_settings.SIGNING_KEY
    # Signed unchanged, the claims give the very token back: the key is the server's.
    assert jws_sign(header, claims, key) == token
    return jws_sign(header, {**claims, "exp": claims["iat"]}, key)


def audit_events(server: LiveServer, event: str, family_id: str) -> int:
    """How many audit records `event` the server wrote for the login `family_id`."""
    count = 0
    for line in server.log_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (record.get("event"), record.get("family_id")) == (
            event,
            family_id,
        ):
            count += 1
    return count


@pytest.fixture
def token_path(tmp_path: Path) -> Path:
    """Where the client under test keeps its tokens."""
    return tmp_path / "dualauth" / "tokens.json"


@pytest.fixture
def traffic() -> Traffic:
    """A recorder of the client's requests and responses."""
    return Traffic()


@pytest.fixture
def clock() -> ManualClock:
    """The clock by which the client under test judges expiry: now, until the test moves it."""
    return ManualClock()


@pytest.fixture
def mobile(
    token_server: LiveServer, token_path: Path, traffic: Traffic, clock: ManualClock
) -> Iterator[DualauthClient]:
    """A client of the server with a file store and the test's clock, not logged in."""
    with DualauthClient(
        token_server.url,
        store=FileTokenStore(token_path),
        event_hooks=traffic.hooks(),
        clock=clock,
    ) as client:
        yield client


@pytest.fixture
def alice_mobile(mobile: DualauthClient, live_user: User, password: str) -> DualauthClient:
    """The client, logged in as alice."""
    mobile.login(live_user.username, password)
    return mobile
