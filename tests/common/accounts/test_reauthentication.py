"""Sudo mode: a sensitive action needs a login proven within REAUTH_WINDOW, in every mode."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.conf import dualauth_settings
from tests.common.accounts.conftest import account_path, login, refresh
from tests.conftest import PASSWORD
from tests.modes import MODES, ModeClient

User = get_user_model()
SECOND = timedelta(seconds=1)
# Each sensitive action, and its answer on a fresh login.
SENSITIVE = {
    "email change": ("post", "email-change", {"email": "moved@example.com"}, 202),
    "account deletion": ("delete", "account", None, 204),
}


def _act(client: ModeClient, action: str, email: str = "moved@example.com") -> Any:
    method, endpoint, body, _ = SENSITIVE[action]
    return client.request(method, account_path(endpoint), body and {"email": email})


def _reauthenticate(client: ModeClient, password: str = PASSWORD, **extra: str) -> Any:
    return client.request("post", account_path("reauthenticate"), {"password": password, **extra})


def _known_device(client: ModeClient) -> dict[str, str]:
    """What proves `client`'s device in a body: a native client's token; a browser's cookie
    travels by itself.
    """
    return {"device_token": client.tokens["device_token"]} if client.mode == "jwt-header" else {}


def _needs_reauthentication(response: Any) -> None:
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "reauthentication_required"


@pytest.fixture
def alice(user, clock, mode) -> ModeClient:
    """Alice logged in in `mode` just now, on a clock that stands still."""
    return login(mode, user.get_username())


@pytest.mark.parametrize("action", SENSITIVE)
def test_a_sensitive_action_works_just_before_the_window_ends(alice, clock, action):
    clock.shift(dualauth_settings.REAUTH_WINDOW - SECOND)
    refresh(alice)
    assert _act(alice, action).status_code == SENSITIVE[action][3]


@pytest.mark.parametrize("action", SENSITIVE)
def test_a_sensitive_action_needs_reauthentication_once_the_window_ends(
    alice, user, clock, mails, action
):
    clock.shift(dualauth_settings.REAUTH_WINDOW)
    # A new access token is no new proof of who the user is.
    refresh(alice)
    _needs_reauthentication(_act(alice, action))
    assert User.objects.filter(pk=user.pk, email=user.email).exists()
    assert mails() == []


def test_reading_the_account_needs_no_fresh_login(alice, clock):
    clock.shift(dualauth_settings.REAUTH_WINDOW * 10)
    refresh(alice)
    assert alice.request("get", account_path("account")).status_code == 200


def test_reauthenticating_makes_the_login_fresh_for_one_more_window(alice, clock):
    window = dualauth_settings.REAUTH_WINDOW
    clock.shift(window * 3)
    refresh(alice)
    _needs_reauthentication(_act(alice, "email change"))
    response = _reauthenticate(alice)
    assert response.status_code == 200, response.content
    until = datetime.fromisoformat(response.json()["reauthenticated_until"])
    assert until == timezone.now() + window
    assert _act(alice, "email change").status_code == 202
    clock.shift(window - SECOND)
    refresh(alice)
    assert _act(alice, "email change", "again@example.com").status_code == 202
    clock.shift(SECOND)
    _needs_reauthentication(_act(alice, "email change", "third@example.com"))


def test_a_wrong_password_does_not_reauthenticate(alice, clock):
    clock.shift(dualauth_settings.REAUTH_WINDOW)
    refresh(alice)
    response = _reauthenticate(alice, "not the password")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "password" in response.json()["errors"]
    _needs_reauthentication(_act(alice, "email change"))


def test_wrong_reauthentications_count_against_the_login_throttle(alice, user):
    # Without its device cookie: a known device's failures count against its own limit.
    alice.client.cookies.pop(dualauth_settings.DEVICE_COOKIE_NAME, None)
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        assert _reauthenticate(alice, "not the password").status_code == 400
    response = _reauthenticate(alice)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    assert ModeClient("jwt-header").login(user.get_username(), PASSWORD).status_code == 429


def test_failures_elsewhere_do_not_lock_a_known_device_out_of_reauthenticating(alice, user):
    device = _known_device(alice)
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME + 1):
        ModeClient("jwt-header").login(user.get_username(), "not the password")
    assert ModeClient(alice.mode).login(user.get_username(), PASSWORD).status_code == 429
    assert _reauthenticate(alice, **device).status_code == 200


def test_a_known_device_reauthenticates_within_its_own_limit(alice, user):
    device = _known_device(alice)
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_DEVICE):
        assert _reauthenticate(alice, "not the password", **device).status_code == 400
    assert _reauthenticate(alice, **device).status_code == 429


@pytest.mark.parametrize("other_mode", MODES)
def test_reauthenticating_one_login_leaves_the_users_other_logins_stale(
    alice, user, clock, other_mode
):
    other = login(other_mode, user.get_username())
    clock.shift(dualauth_settings.REAUTH_WINDOW)
    refresh(alice)
    refresh(other)
    assert _reauthenticate(alice).status_code == 200
    _needs_reauthentication(_act(other, "email change", "other@example.com"))
    assert _act(alice, "email change").status_code == 202


def _cost(client: ModeClient, calls: list[str], method: str, path: str, body: Any = None):
    """The cache calls and SQL statements of one request, and its status."""
    calls.clear()
    with CaptureQueriesContext(connection) as queries:
        status = client.request(method, path, body).status_code
    return status, list(calls), [q["sql"] for q in queries.captured_queries]


def test_the_freshness_check_costs_no_cache_round_trip_or_query_of_its_own(
    alice, clock, cache_calls
):
    clock.shift(dualauth_settings.REAUTH_WINDOW)
    refresh(alice)
    # The first request after a while writes when the login was last seen.
    assert alice.request("get", alice.profile_path).status_code == 200
    read = _cost(alice, cache_calls, "get", alice.profile_path)
    refused = _cost(alice, cache_calls, "post", account_path("email-change"), {"email": "m@x.io"})
    assert read == (200, ["get_many"], [])
    assert refused == (403, ["get_many"], [])
    assert _reauthenticate(alice).status_code == 200
    # The reauthenticated state is read once from the database, then from the cache again.
    assert alice.request("get", alice.profile_path).status_code == 200
    assert _cost(alice, cache_calls, "get", alice.profile_path) == (200, ["get_many"], [])
