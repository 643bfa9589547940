"""Fixtures of the client tests: real servers with short tokens, and clients of them."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User

from clients.mobile import DualauthClient, FileTokenStore
from clients.mobile.client import REFRESH_PATH
from tests.conftest import require_shared_cache
from tests.live import LiveServer

ACCESS_LIFETIME = 2.0
# Sleeping this long lets an access token of ACCESS_LIFETIME really expire on the server.
PAST_EXPIRY = ACCESS_LIFETIME + 0.6


@pytest.fixture(scope="session")
def short_lived(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A real server whose access tokens expire after 2 s."""
    # Its workers share failed logins and revocations, and each test resets them.
    require_shared_cache()
    return live_server_factory(ACCESS_TOKEN_LIFETIME=str(int(ACCESS_LIFETIME)))


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
def mobile(short_lived: LiveServer, token_path: Path, traffic: Traffic) -> Iterator[DualauthClient]:
    """A client of the short-lived server with a file store, not logged in."""
    with DualauthClient(
        short_lived.url, store=FileTokenStore(token_path), event_hooks=traffic.hooks()
    ) as client:
        yield client


@pytest.fixture
def alice_mobile(mobile: DualauthClient, live_user: User, password: str) -> DualauthClient:
    """The client, logged in as alice."""
    mobile.login(live_user.username, password)
    return mobile
