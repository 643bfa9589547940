"""Failed-login throttling: per username, address and device, with Redis up or stopped."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core import signing
from django.db import connection
from django.utils import timezone

from common.cache_recovery import cache_recovery_owe
from common.conf import dualauth_settings
from common.models import ThrottleCount
from common.throttling import device_token_issue
from tests.conftest import CountingHasher, login_name
from tests.modes import MODES, ModeClient

ALICE = login_name("alice")


def _fail(mode: str, username: str = ALICE, **extra: str):
    client = ModeClient(mode)
    if extra:
        client.client.credentials(**extra)
    return client.login(username, "wrong password")


@pytest.mark.parametrize("failing_mode", MODES)
@pytest.mark.parametrize("login_mode", MODES)
def test_the_failure_limit_locks_a_username_on_every_endpoint_even_with_the_right_password(
    user, password, failing_mode, login_mode
):
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        assert _fail(failing_mode).status_code == 401
    response = ModeClient(login_mode).login(ALICE, password)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    window = dualauth_settings.LOGIN_FAILURE_WINDOW.total_seconds()
    assert 0 < int(response["Retry-After"]) <= window


def test_failures_on_different_endpoints_add_up(user, password):
    limit = dualauth_settings.LOGIN_FAILURES_PER_USERNAME
    for i in range(limit):
        assert _fail(MODES[i % len(MODES)]).status_code == 401
    assert ModeClient("jwt-header").login(ALICE, password).status_code == 429


def test_the_username_limit_ignores_case(user, password):
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        _fail("jwt-header", ALICE.upper())
    assert ModeClient("jwt-header").login(ALICE, password).status_code == 429


def test_successful_logins_do_not_count(user, password):
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME - 1):
        _fail("jwt-header")
    for _ in range(10):
        assert ModeClient("jwt-header").login(ALICE, password).status_code == 200
    _fail("jwt-header")
    assert ModeClient("jwt-header").login(ALICE, password).status_code == 429


def test_an_address_over_its_limit_is_refused_for_every_username(user, password, settings):
    settings.DUALAUTH = {"LOGIN_FAILURES_PER_ADDRESS": 3}
    for name in ("bob", "carol", "dave"):
        assert _fail("session", name).status_code == 401
    assert ModeClient("session").login(ALICE, password).status_code == 429


def test_a_spoofed_forwarded_for_header_dodges_nothing(user, password, settings):
    settings.DUALAUTH = {"LOGIN_FAILURES_PER_ADDRESS": 3}
    for i, name in enumerate(("bob", "carol", "dave")):
        _fail("jwt-header", name, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
    spoofed = ModeClient("jwt-header")
    spoofed.client.credentials(HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert spoofed.login(ALICE, password).status_code == 429


def test_forwarded_for_is_believed_from_a_trusted_proxy_only(user, password, settings):
    settings.DUALAUTH = {"LOGIN_FAILURES_PER_ADDRESS": 3, "TRUSTED_PROXIES": ["127.0.0.1/32"]}
    for name in ("bob", "carol", "dave"):
        _fail("jwt-header", name, HTTP_X_FORWARDED_FOR="203.0.113.5")
    behind_proxy = ModeClient("jwt-header")
    behind_proxy.client.credentials(HTTP_X_FORWARDED_FOR="203.0.113.6")
    assert behind_proxy.login(ALICE, password).status_code == 200
    forged_hop = ModeClient("jwt-header")
    forged_hop.client.credentials(HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.5")
    assert forged_hop.login(ALICE, password).status_code == 429


def test_the_lock_ends_when_the_window_passes(user, password, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        _fail("jwt-header")

    time_machine.shift(dualauth_settings.LOGIN_FAILURE_WINDOW - timedelta(seconds=1))
    locked = ModeClient("jwt-header").login(ALICE, password)
    assert (locked.status_code, locked["Retry-After"]) == (429, "1")
    time_machine.shift(timedelta(seconds=1))
    assert ModeClient("jwt-header").login(ALICE, password).status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", MODES)
def test_parallel_wrong_logins_never_check_more_passwords_than_the_limit(
    make_user, password, counting_hasher, mode
):
    make_user("alice")
    wrong_logins_at_once(mode, counting_hasher)
    assert ModeClient(mode).login(ALICE, password).status_code == 429


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_logins_as_the_cache_comes_back_never_check_more_passwords_than_the_limit(
    make_user, password, counting_hasher
):
    # Redis answers again, and this process owes it the revocations of the outage: one
    # attempt pays them while the others of the burst count on, in the cache as well.
    make_user("alice")
    cache_recovery_owe(time.time())
    wrong_logins_at_once("jwt-header", counting_hasher)
    assert ModeClient("jwt-header").login(ALICE, password).status_code == 429


def wrong_logins_at_once(mode: str, counting_hasher: type[CountingHasher]) -> None:
    """Four times the username's limit of wrong logins of alice, released at one instant:
    at most the limit of passwords is checked, and the rest are refused.
    """
    limit = dualauth_settings.LOGIN_FAILURES_PER_USERNAME
    attempts = 4 * limit + 4
    barrier = threading.Barrier(attempts)
    counting_hasher.calls = 0

    def attempt(_: int) -> int:
        client = ModeClient(mode)
        client.csrf_token()
        barrier.wait()
        try:
            return int(client.login(ALICE, "wrong password").status_code)
        finally:
            connection.close()

    with ThreadPoolExecutor(attempts) as pool:
        statuses = list(pool.map(attempt, range(attempts)))
    assert counting_hasher.calls <= limit
    assert statuses.count(401) <= limit
    assert statuses.count(401) + statuses.count(429) == attempts


def _device_login(client: ModeClient, password: str, **extra: str):
    """Log in as alice with the device token this client holds, if any."""
    if client.mode == "jwt-header" and client.tokens:
        extra.setdefault("device_token", client.tokens["device_token"])
    return client.login(ALICE, password, **extra)


@pytest.mark.parametrize("mode", MODES)
def test_an_attacker_cannot_lock_the_owner_out_of_a_device_that_logged_in_before(
    user, password, mode
):
    owner = ModeClient(mode)
    assert _device_login(owner, password).status_code == 200
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME + 3):
        _fail("jwt-header")
    assert ModeClient(mode).login(ALICE, password).status_code == 429
    assert _device_login(owner, password).status_code == 200


@pytest.mark.parametrize("mode", MODES)
def test_a_device_token_is_limited_on_its_own(user, password, mode):
    owner = ModeClient(mode)
    assert _device_login(owner, password).status_code == 200
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_DEVICE):
        assert _device_login(owner, "wrong password").status_code == 401
    response = _device_login(owner, password)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert ModeClient(mode).login(ALICE, password).status_code == 200


@pytest.mark.parametrize("kind", ["forged", "signed-for-another-purpose", "of-another-user"])
def test_a_device_token_that_is_forged_or_of_another_user_exempts_nothing(
    user, make_user, password, kind
):
    bob = make_user("bob")
    device_token = {
        "forged": "not-a-device-token",
        "signed-for-another-purpose": signing.dumps({"u": "alice", "d": "x"}),
        "of-another-user": device_token_issue(user=bob),
    }[kind]
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        _fail("jwt-header")
    response = ModeClient("jwt-header").login(ALICE, password, device_token=device_token)
    assert response.status_code == 429


def test_a_device_token_of_a_deleted_account_exempts_nothing_for_the_next_owner_of_its_name(
    user, make_user, password
):
    login = ModeClient("jwt-header").login(ALICE, password)
    device_token = login.json()["device_token"]
    user.delete()
    make_user("alice")
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        _fail("jwt-header")

    response = ModeClient("jwt-header").login(ALICE, password, device_token=device_token)
    assert response.status_code == 429


def test_with_redis_stopped_the_failure_limit_still_locks_a_username(
    own_redis, fallback, user, password
):
    assert _fail("jwt-header").status_code == 401
    own_redis.stop()
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        assert _fail("session").status_code == 401
    response = ModeClient("jwt-header").login(ALICE, password)
    assert response.status_code == 429
    window = dualauth_settings.LOGIN_FAILURE_WINDOW.total_seconds()
    assert 0 < int(response["Retry-After"]) <= window
    assert ThrottleCount.objects.exists() == (fallback == "database")


def test_with_redis_stopped_right_passwords_do_not_count_and_windows_end(
    own_redis, fallback, user, password, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    own_redis.stop()
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME * 2):
        assert ModeClient("jwt-header").login(ALICE, password).status_code == 200
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        assert _fail("jwt-header").status_code == 401
    assert ModeClient("jwt-header").login(ALICE, password).status_code == 429
    time_machine.shift(dualauth_settings.LOGIN_FAILURE_WINDOW)
    assert ModeClient("jwt-header").login(ALICE, password).status_code == 200


def test_with_redis_stopped_a_known_device_is_still_exempt_and_bounded(
    own_redis, fallback, user, password
):
    owner = ModeClient("jwt-header")
    assert owner.login(ALICE, password).status_code == 200
    device = owner.tokens["device_token"]
    own_redis.stop()
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME + 1):
        _fail("jwt-header")
    assert ModeClient("jwt-header").login(ALICE, password, device_token=device).status_code == 200
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_DEVICE):
        response = ModeClient("jwt-header").login(ALICE, "wrong", device_token=device)
        assert response.status_code == 401
    response = ModeClient("jwt-header").login(ALICE, password, device_token=device)
    assert response.status_code == 429


@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_parallel_wrong_logins_never_check_more_passwords_than_the_limit(
    own_redis, fallback, make_user, counting_hasher
):
    make_user("alice")
    own_redis.stop()
    wrong_logins_at_once("jwt-header", counting_hasher)
