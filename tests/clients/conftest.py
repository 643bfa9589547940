"""Fixtures of the client tests: real servers, clients of them, and a clock the tests move."""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp
import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.cache import caches
from django.utils import timezone
from rest_framework_simplejwt import settings as simplejwt_settings

from clients.mobile import DualauthClient, FileTokenStore
from clients.mobile.client import REFRESH_PATH
from common.conf import CACHE_ALIAS, dualauth_settings
from common.models import LoginFamily
from common.selectors import family_cache_key
from tests.conftest import require_shared_cache
from tests.jwt_keys import jws_sign, segment_decode
from tests.live import LiveServer
from tests.mail import SmtpServer


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


@pytest.fixture(scope="session")
def mail_server(
    live_server_factory: Callable[..., LiveServer], smtp_server: SmtpServer
) -> LiveServer:
    """A real server that sends its account mail to the tests' SMTP server."""
    # Its workers share the mail throttles and login freshness with each other and the tests.
    require_shared_cache()
    return live_server_factory(**smtp_server.env)


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


def login_make_stale(family_id: str) -> None:
    """Make a login not fresh on every server process, as if it had begun long ago."""
    long_ago = timezone.now() - 2 * dualauth_settings.REAUTH_WINDOW
    families = LoginFamily.objects.filter(pk=family_id)
    families.update(authenticated_at=long_ago)
    # Servers read a login's state from the shared cache before the database.
    for user_id in families.values_list("user_id", flat=True):
        caches[CACHE_ALIAS].delete(family_cache_key(family_id, user_id))


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


@pytest.fixture
def new_address() -> Callable[[str], str]:
    """Makes addresses that no other test mails to: the SMTP server keeps the whole run's mail."""

    def make(name: str) -> str:
        return f"{name}-{uuid.uuid4().hex[:12]}@example.com"

    return make


@pytest.fixture
def mail_user(
    transactional_db: None, make_user: Callable[..., User], new_address: Callable[[str], str]
) -> User:
    """Alice, committed so that a server process sees her, at an address of her own."""
    return make_user("alice", email=new_address("alice"))


@pytest.fixture
def mail_mobile(
    mail_server: LiveServer, token_path: Path, traffic: Traffic
) -> Iterator[DualauthClient]:
    """A client of the server that mails, with a file store, not logged in."""
    with DualauthClient(
        mail_server.url, store=FileTokenStore(token_path), event_hooks=traffic.hooks()
    ) as client:
        yield client


@pytest.fixture(scope="session")
def mfa_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A real server with a key for authenticator secrets, so that users can turn TOTP on."""
    # Its workers share failed logins and login freshness with each other and the tests.
    require_shared_cache()
    return live_server_factory(MFA_ENCRYPTION_KEY=Fernet.generate_key().decode())


def totp_code(secret: str, steps: int = 0) -> str:
    """The code of the authenticator app of `secret`, `steps` time steps from now.

    The server takes the steps -1, 0 and 1 around now, each code once and only codes of
    later steps than the last one used: a test uses them in that order, without sleeping.
    """
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def totp_step() -> int:
    """The authenticator apps' time step now (30 s each, as `totp_code` counts them)."""
    return int(time.time() // 30)


def totp_code_wrong(secret: str) -> str:
    """A well-formed code that no step near now has."""
    near = {totp_code(secret, steps) for steps in range(-3, 4)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in near)


@dataclass(frozen=True)
class TotpAccount:
    """A committed user with an authenticator app on: its secret and its recovery codes."""

    user: User
    secret: str
    recovery_codes: list[str]


@pytest.fixture
def totp_user(mfa_server: LiveServer, live_user: User, password: str) -> TotpAccount:
    """Alice with an authenticator app on, set up over plain HTTP; the step -1 code is used."""
    login = httpx.post(
        f"{mfa_server.url}/api/jwt/token/",
        json={"username": live_user.get_username(), "password": password},
    )
    assert login.status_code == 200, login.text
    bearer = {"Authorization": f"Bearer {login.json()['access']}"}
    with httpx.Client(base_url=f"{mfa_server.url}/api/account/mfa/", headers=bearer) as http:
        setup = http.get("totp/")
        assert setup.status_code == 200, setup.text
        secret = setup.json()["secret"]
        enabled = http.post("totp/", json={"code": totp_code(secret, -1)})
        assert enabled.status_code == 201, enabled.text
    return TotpAccount(live_user, secret, enabled.json()["recovery_codes"])


@pytest.fixture
def mfa_mobile(
    mfa_server: LiveServer, token_path: Path, traffic: Traffic, clock: ManualClock
) -> Iterator[DualauthClient]:
    """A client of the server with authenticator apps, with a file store, not logged in."""
    with DualauthClient(
        mfa_server.url, store=FileTokenStore(token_path), event_hooks=traffic.hooks(), clock=clock
    ) as client:
        yield client
