"""Fixtures of the second-factor tests: a key, a still clock, users with an authenticator app."""

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.test import RequestFactory
from time_machine import TimeMachineFixture

from common.mfa.services import totp_enable, totp_setup_get
from common.mfa.totp import STEP_SECONDS
from tests.common.accounts.conftest import (  # noqa: F401 (fixtures)
    account_path,
    dualauth,
    mails,
)
from tests.conftest import PASSWORD
from tests.modes import ModeClient

STEP = timedelta(seconds=STEP_SECONDS)
SECOND = timedelta(seconds=1)
# Where the clock starts: this far into a time step, clear of both its edges.
INTO_STEP = 10


def site_request() -> HttpRequest:
    """A request to the test site, as a service is given one."""
    return RequestFactory().post("/", REMOTE_ADDR="203.0.113.7")


def step_now() -> int:
    """The current RFC 6238 time step (30 s since the epoch), by the clock the tests control."""
    return math.floor(time.time() / STEP_SECONDS)


@dataclass
class Authenticator:
    """What an authenticator app holds for one user: the secret; it shows a code per step."""

    secret: str

    @property
    def totp(self) -> pyotp.TOTP:
        """The app, read by pyotp with RFC 6238's defaults (6 digits, 30 s, SHA-1)."""
        return pyotp.TOTP(self.secret)

    def code(self, k: int = 0) -> str:
        """The code of the step `k` steps from the current one."""
        instant = datetime.fromtimestamp((step_now() + k) * STEP_SECONDS, tz=UTC)
        return self.totp.at(instant)


@dataclass
class TotpUser:
    """A user with an enabled authenticator app, and the recovery codes it was enabled with."""

    user: User
    app: Authenticator
    recovery_codes: list[str]

    @property
    def username(self) -> str:
        """What the user logs in with."""
        return str(self.user.get_username())


@pytest.fixture(autouse=True)
def _encryption_key(settings: Any) -> str:
    """An MFA encryption key for this test, never the SECRET_KEY."""
    key = Fernet.generate_key().decode()
    dualauth(settings, MFA_ENCRYPTION_KEYS=[key])
    return key


@pytest.fixture
def clock(time_machine: TimeMachineFixture) -> TimeMachineFixture:
    """The clock, standing still INTO_STEP seconds into a time step until the test moves it."""
    start = (step_now() + 1) * STEP_SECONDS + INTO_STEP
    time_machine.move_to(datetime.fromtimestamp(start, tz=UTC), tick=False)
    return time_machine


def totp_enabled_for(user: User, clock: TimeMachineFixture) -> TotpUser:
    """Enable an app for `user` through the services, then let three steps pass.

    The step the app was enabled with is used: the codes of the steps around the
    current one (after the clock moved) are all still unused.
    """
    family_id = uuid.uuid4()
    secret = str(totp_setup_get(user_id=user.pk, family_id=family_id)["secret"])
    app = Authenticator(secret)
    codes = totp_enable(
        user_id=user.pk, family_id=family_id, code=app.code(), request=site_request()
    )
    clock.shift(STEP * 3)
    return TotpUser(user=user, app=app, recovery_codes=codes)


@pytest.fixture
def enable_totp(clock: TimeMachineFixture) -> Callable[[User], TotpUser]:
    """Enable an authenticator app for a user, on the test's clock."""
    return lambda user: totp_enabled_for(user, clock)


@pytest.fixture
def alice(user: User, enable_totp: Callable[[User], TotpUser], mailoutbox: list[Any]) -> TotpUser:
    """Alice, with an enabled authenticator app and her recovery codes; the mail telling her
    of the app (tests/common/accounts/test_changes.py) is put aside.
    """
    enabled = enable_totp(user)
    mailoutbox.clear()
    return enabled


def mfa_begin(client: ModeClient, username: str, **extra: Any) -> str:
    """The first step of a login through `client`'s mode: the mfa_token a right password gets."""
    response = client.login(username, extra.pop("password", PASSWORD), **extra)
    assert response.status_code == 202, response.content
    return str(response.json()["mfa_token"])


def mfa_complete(client: ModeClient, token: str, code: str, *, csrf: bool = True) -> Any:
    """The second step through `client`; a jwt-header client keeps the pair it gets."""
    body = {"mfa_token": token, "code": code}
    response = client.request("post", account_path("mfa-authenticate"), body, csrf=csrf)
    if client.mode == "jwt-header" and response.status_code == 200:
        client.tokens = response.json()
        client.use_bearer(client.tokens["access"])
    return response


def mfa_login(mode: str, totp_user: TotpUser, code: str) -> ModeClient:
    """A client of `mode` logged in as `totp_user` with its password and `code`."""
    client = ModeClient(mode)
    response = mfa_complete(client, mfa_begin(client, totp_user.username), code)
    assert response.status_code == 200, response.content
    return client
