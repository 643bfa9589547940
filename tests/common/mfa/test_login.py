"""A login's second step, in every mode: a password alone grants nothing; the code completes it
with exactly that mode's credential; the mfa_token is single-use, short-lived and bound.
"""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from clients.mobile.dpop import DpopKey
from common.conf import dualauth_settings
from common.mfa.models import MfaChallenge, TotpDevice
from common.models import LoginFamily
from tests.common.accounts.conftest import login
from tests.common.mfa.conftest import (
    INTO_STEP,
    SECOND,
    STEP,
    account_path,
    dualauth,
    mfa_begin,
    mfa_complete,
    mfa_login,
)
from tests.conftest import PASSWORD, as_json
from tests.modes import LOGIN_PATHS, MODES, ModeClient

pytestmark = pytest.mark.django_db
User = get_user_model()
COOKIE_MODES = ("session", "jwt-cookie")
MFA_REQUIRED = {"detail", "code", "mfa_token", "methods", "expires_in"}


def _credential_cookies() -> list[str]:
    """The name of every cookie that is, or leads to, a login."""
    return [
        django_settings.SESSION_COOKIE_NAME,
        dualauth_settings.ACCESS_COOKIE_NAME,
        dualauth_settings.REFRESH_COOKIE_NAME,
        dualauth_settings.DEVICE_COOKIE_NAME,
    ]


def _error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    assert isinstance(response.json()["detail"], str)


def _profile_of(user: Any) -> dict[str, Any]:
    """The fields of `user`'s profile that tell whose it is."""
    return {
        "id": as_json(user.pk),
        "username": user.get_username(),
        "email": user.email,
    }


def _subset(body: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(body.get(key) == value for key, value in expected.items())


# A right password alone.


def test_a_right_password_gets_202_mfa_required_and_no_credential(mode, alice, audit_events):
    client = ModeClient(mode)
    response = client.login(alice.username, PASSWORD)
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == MFA_REQUIRED
    assert body["code"] == "mfa_required"
    assert body["methods"] == ["totp", "recovery_code"]
    assert body["expires_in"] == int(dualauth_settings.MFA_TOKEN_LIFETIME.total_seconds())
    assert len(body["mfa_token"]) >= 43
    for name in _credential_cookies():
        assert name not in response.cookies
        assert name not in client.client.cookies
    assert not LoginFamily.objects.exists()
    assert "mfa_required" in [e["event"] for e in audit_events()]
    assert "login" not in [e["event"] for e in audit_events()]
    response = client.request("get", client.profile_path)
    assert response.status_code == 401


def test_a_wrong_password_of_a_user_with_a_factor_is_a_plain_401(mode, alice):
    response = ModeClient(mode).login(alice.username, "not the password")
    _error(response, 401, "invalid_credentials")
    assert "mfa_token" not in response.json()
    assert not MfaChallenge.objects.exists()


def _as_credential_everywhere(token: str) -> list[Any]:
    """Every way a client could present `token` as a credential; the answers."""
    answers = []
    for path in ("/api/jwt/profile/", "/api/profile/", "/api/session/profile/", "/api/account/"):
        bearer = APIClient(enforce_csrf_checks=True)
        bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        answers.append(bearer.get(path))
    for cookie in (django_settings.SESSION_COOKIE_NAME, dualauth_settings.ACCESS_COOKIE_NAME):
        for path in ("/api/profile/", "/api/session/profile/", "/api/account/"):
            browser = APIClient(enforce_csrf_checks=True)
            browser.cookies[cookie] = token
            answers.append(browser.get(path))
    anyone = APIClient(enforce_csrf_checks=True)
    answers.append(anyone.post("/api/jwt/token/refresh/", {"refresh": token}, format="json"))
    answers.append(anyone.post("/api/jwt/token/verify/", {"token": token}, format="json"))
    answers.append(anyone.post("/api/jwt/logout/", {"refresh": token}, format="json"))
    cookies = ModeClient("jwt-cookie")
    cookies.client.cookies[dualauth_settings.REFRESH_COOKIE_NAME] = token
    answers.append(cookies.request("post", "/api/jwt/cookie/refresh/"))
    return answers


def test_the_mfa_token_is_no_credential_anywhere(mode, alice):
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    for response in _as_credential_everywhere(token):
        assert response.status_code in (400, 401), (response.request, response.content)
        assert "Auth-Mode" not in response
        for name in _credential_cookies():
            assert not response.cookies.get(name) or not response.cookies[name].value
    assert not LoginFamily.objects.exists()
    # Presenting it elsewhere spent nothing: it still completes its own login.
    assert mfa_complete(client, token, alice.app.code()).status_code == 200


# Completing.


def _plain_login(mode: str, make_user: Callable[..., Any]) -> Any:
    """A password login, in `mode`, of a user without a second factor: what a login answers."""
    response = ModeClient(mode).login(make_user("carol").get_username(), PASSWORD)
    assert response.status_code == 200, response.content
    return response


def test_completing_answers_exactly_as_the_password_login_of_the_mode(mode, alice, make_user):
    plain = _plain_login(mode, make_user)
    client = ModeClient(mode)
    response = mfa_complete(client, mfa_begin(client, alice.username), alice.app.code())
    assert response.status_code == 200, response.content
    assert set(response.json()) == set(plain.json())
    assert {n for n, c in response.cookies.items() if c.value} == {
        n for n, c in plain.cookies.items() if c.value
    }
    [family] = LoginFamily.objects.filter(user_id=alice.user.pk)
    assert family.mode == mode


def test_a_session_completion_gives_a_session_and_nothing_else(alice):
    client = ModeClient("session")
    response = mfa_complete(client, mfa_begin(client, alice.username), alice.app.code())
    assert response.status_code == 200, response.content
    assert _subset(response.json(), _profile_of(alice.user))
    assert response.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert response.cookies[dualauth_settings.DEVICE_COOKIE_NAME].value
    for name in (dualauth_settings.ACCESS_COOKIE_NAME, dualauth_settings.REFRESH_COOKIE_NAME):
        assert name not in response.cookies
    assert not {"access", "refresh", "device_token"} & set(response.json())
    profile = client.request("get", "/api/session/profile/")
    assert profile.status_code == 200
    assert profile["Auth-Mode"] == "session"
    assert profile.json()["username"] == alice.username


def test_a_jwt_header_completion_gives_a_token_pair_and_no_cookie(alice):
    client = ModeClient("jwt-header")
    response = mfa_complete(client, mfa_begin(client, alice.username), alice.app.code())
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "device_token"}
    assert body["token_type"] == "Bearer"
    assert not response.cookies
    assert not {django_settings.SESSION_COOKIE_NAME, dualauth_settings.ACCESS_COOKIE_NAME} & set(
        client.client.cookies
    )
    profile = client.request("get", "/api/jwt/profile/")
    assert profile.status_code == 200
    assert profile["Auth-Mode"] == "jwt-header"
    assert profile.json()["username"] == alice.username
    verify = client.request("post", "/api/jwt/token/verify/", {"token": body["refresh"]})
    assert verify.status_code == 200


def test_a_jwt_cookie_completion_gives_token_cookies_and_no_session(alice):
    client = ModeClient("jwt-cookie")
    response = mfa_complete(client, mfa_begin(client, alice.username), alice.app.code())
    assert response.status_code == 200, response.content
    assert _subset(response.json(), _profile_of(alice.user))
    assert not {"access", "refresh", "device_token"} & set(response.json())
    for name in (dualauth_settings.ACCESS_COOKIE_NAME, dualauth_settings.REFRESH_COOKIE_NAME):
        assert response.cookies[name].value
        assert response.cookies[name]["httponly"]
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies
    profile = client.request("get", "/api/profile/")
    assert profile.status_code == 200
    assert profile["Auth-Mode"] == "jwt-cookie"
    assert client.request("post", "/api/jwt/cookie/refresh/").status_code == 200


@pytest.mark.parametrize("remember", [True, False])
def test_a_session_completion_keeps_what_the_login_asked(alice, remember):
    client = ModeClient("session")
    token = mfa_begin(client, alice.username, remember=remember)
    response = mfa_complete(client, token, alice.app.code())
    assert response.status_code == 200, response.content
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert bool(cookie["max-age"] or cookie["expires"]) is remember


def test_completing_is_audited_with_the_factor(mode, alice, audit_events):
    mfa_login(mode, alice, alice.app.code())
    [passed] = [e for e in audit_events() if e["event"] == "mfa_passed"]
    assert passed["user_id"] == as_json(alice.user.pk)
    assert passed["method"] == "totp"
    assert passed["mode"] == mode
    assert "login" in [e["event"] for e in audit_events()]


def test_a_completed_login_records_both_factors_in_every_mode(mode, alice):
    mfa_login(mode, alice, alice.app.code())
    assert LoginFamily.objects.get(mode=mode).amr == "pwd otp mfa"


def test_a_jwt_header_completion_with_a_dpop_proof_binds_the_login(alice):
    client = ModeClient("jwt-header")
    token = mfa_begin(client, alice.username)
    key = DpopKey.generate()
    path = "/api/account/mfa/authenticate/"
    response = client.client.post(
        path,
        {"mfa_token": token, "code": alice.app.code()},
        format="json",
        HTTP_DPOP=key.proof(method="POST", url=f"http://testserver{path}"),
    )
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"
    assert LoginFamily.objects.get().dpop_jkt == key.thumbprint


def test_a_jwt_header_completion_refused_for_its_dpop_nonce_uses_up_nothing(alice, settings):
    dualauth(settings, DPOP_NONCE=True)
    client = ModeClient("jwt-header")
    token = mfa_begin(client, alice.username)
    key = DpopKey.generate()
    path = "/api/account/mfa/authenticate/"
    url = f"http://testserver{path}"
    body = {"mfa_token": token, "code": alice.app.code()}
    first = client.client.post(
        path, body, format="json", HTTP_DPOP=key.proof(method="POST", url=url)
    )
    _error(first, 400, "use_dpop_nonce")
    # Neither the token, its attempts, nor the code was used up.
    assert MfaChallenge.objects.get().attempts == 0
    assert not LoginFamily.objects.exists()
    proof = key.proof(method="POST", url=url, nonce=first["DPoP-Nonce"])
    retry = client.client.post(path, body, format="json", HTTP_DPOP=proof)
    assert retry.status_code == 200, retry.content
    assert retry.json()["token_type"] == "DPoP"
    assert LoginFamily.objects.get().dpop_jkt == key.thumbprint


def test_a_jwt_header_second_step_gives_the_nonce_its_completion_signs_with(alice, settings):
    dualauth(settings, DPOP_NONCE=True)
    client = ModeClient("jwt-header")
    key = DpopKey.generate()
    login_path = LOGIN_PATHS["jwt-header"]
    login_url = f"http://testserver{login_path}"
    body = {"username": alice.username, "password": PASSWORD}
    first = client.client.post(
        login_path, body, format="json", HTTP_DPOP=key.proof(method="POST", url=login_url)
    )
    _error(first, 400, "use_dpop_nonce")
    proof = key.proof(method="POST", url=login_url, nonce=first["DPoP-Nonce"])
    second_step = client.client.post(login_path, body, format="json", HTTP_DPOP=proof)
    assert second_step.status_code == 202, second_step.content
    # The completion's proof is signed with the nonce the 202 gave: no third round trip.
    path = "/api/account/mfa/authenticate/"
    proof = key.proof(
        method="POST", url=f"http://testserver{path}", nonce=second_step["DPoP-Nonce"]
    )
    completion = {"mfa_token": second_step.json()["mfa_token"], "code": alice.app.code()}
    done = client.client.post(path, completion, format="json", HTTP_DPOP=proof)
    assert done.status_code == 200, done.content
    assert done["DPoP-Nonce"]
    assert LoginFamily.objects.get().dpop_jkt == key.thumbprint


# CSRF.


@pytest.mark.parametrize("mode", COOKIE_MODES)
def test_a_cookie_mode_completion_needs_csrf_and_a_refusal_spends_nothing(mode, alice):
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    response = mfa_complete(client, token, alice.app.code(), csrf=False)
    _error(response, 403, "csrf_failed")
    for name in _credential_cookies():
        assert name not in response.cookies
    assert MfaChallenge.objects.get().attempts == 0
    assert not LoginFamily.objects.exists()
    # Neither the token nor the code was used up.
    assert mfa_complete(client, token, alice.app.code()).status_code == 200


def test_a_jwt_header_completion_needs_no_csrf(alice):
    client = ModeClient("jwt-header")
    token = mfa_begin(client, alice.username)
    assert "csrftoken" not in client.client.cookies
    response = mfa_complete(client, token, alice.app.code(), csrf=False)
    assert response.status_code == 200, response.content


# Codes.


def test_a_totp_code_is_accepted_once_even_inside_its_window(mode, alice):
    code = alice.app.code()
    mfa_login(mode, alice, code)
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    _error(mfa_complete(client, token, code), 400, "mfa_code_not_valid")
    # The token lives on for the user's next code.
    assert mfa_complete(client, token, alice.app.code(1)).status_code == 200


def test_a_code_of_a_step_before_one_used_is_refused(mode, alice):
    mfa_login(mode, alice, alice.app.code(1))
    for k in (0, -1):
        client = ModeClient(mode)
        token = mfa_begin(client, alice.username)
        _error(mfa_complete(client, token, alice.app.code(k)), 400, "mfa_code_not_valid")
    assert LoginFamily.objects.filter(user_id=alice.user.pk).count() == 1


# 1 s before a step ends, and 1 s after the next begins.
EDGES = {
    "end of a step": STEP - INTO_STEP * SECOND - SECOND,
    "start of a step": STEP - INTO_STEP * SECOND + SECOND,
}


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("k", [-1, 1])
def test_a_code_one_step_off_is_accepted_at_the_edges_of_a_step(mode, alice, clock, edge, k):
    clock.shift(EDGES[edge])
    client = ModeClient(mode)
    response = mfa_complete(client, mfa_begin(client, alice.username), alice.app.code(k))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("k", [-2, 2])
def test_a_code_two_steps_off_is_refused_at_the_edges_of_a_step(mode, alice, clock, edge, k):
    clock.shift(EDGES[edge])
    client = ModeClient(mode)
    response = mfa_complete(client, mfa_begin(client, alice.username), alice.app.code(k))
    _error(response, 400, "mfa_code_not_valid")
    assert not LoginFamily.objects.exists()


def test_a_code_is_read_with_spaces(mode, alice):
    code = alice.app.code()
    response = mfa_login(mode, alice, f"{code[:3]} {code[3:]}")
    assert response.mode == mode


# The mfa_token.


def test_the_mfa_token_works_until_its_lifetime_ends(mode, alice, clock):
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    clock.shift(dualauth_settings.MFA_TOKEN_LIFETIME - SECOND)
    assert mfa_complete(client, token, alice.app.code()).status_code == 200


def test_an_expired_mfa_token_is_refused(mode, alice, clock):
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    clock.shift(dualauth_settings.MFA_TOKEN_LIFETIME)
    _error(mfa_complete(client, token, alice.app.code()), 400, "mfa_token_not_valid")
    assert not LoginFamily.objects.exists()


def test_an_mfa_token_completes_one_login_only(mode, alice, clock):
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    assert mfa_complete(client, token, alice.app.code()).status_code == 200
    clock.shift(STEP)
    other = ModeClient(mode)
    _error(mfa_complete(other, token, alice.app.code()), 400, "mfa_token_not_valid")
    _error(mfa_complete(other, token, alice.recovery_codes[0]), 400, "mfa_token_not_valid")
    assert LoginFamily.objects.count() == 1


def test_an_unknown_mfa_token_is_refused(mode, alice):
    client = ModeClient(mode)
    mfa_begin(client, alice.username)
    for token in ["x" * 43, "", " ", "a" * 128]:
        response = mfa_complete(client, token, alice.app.code())
        assert response.status_code == 400, response.content
        assert response.json()["code"] in ("mfa_token_not_valid", "validation_error")


def _no_throttle(settings: Any) -> None:
    """Wrong codes enough to end a token, without the login throttle's say."""
    dualauth(settings, LOGIN_FAILURES_PER_USERNAME=dualauth_settings.MFA_MAX_ATTEMPTS * 10)


def test_the_last_allowed_wrong_code_still_leaves_the_right_one(mode, alice, settings):
    _no_throttle(settings)
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    for _ in range(dualauth_settings.MFA_MAX_ATTEMPTS - 1):
        _error(mfa_complete(client, token, "000000"), 400, "mfa_code_not_valid")
    assert mfa_complete(client, token, alice.app.code()).status_code == 200


def test_after_the_allowed_wrong_codes_the_token_is_dead(mode, alice, settings, audit_events):
    _no_throttle(settings)
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    for _ in range(dualauth_settings.MFA_MAX_ATTEMPTS):
        _error(mfa_complete(client, token, "000000"), 400, "mfa_code_not_valid")
    _error(mfa_complete(client, token, alice.app.code()), 400, "mfa_token_not_valid")
    _error(mfa_complete(client, token, alice.recovery_codes[0]), 400, "mfa_token_not_valid")
    assert not LoginFamily.objects.exists()
    failed = [e for e in audit_events() if e["event"] == "mfa_failed"]
    assert len(failed) == dualauth_settings.MFA_MAX_ATTEMPTS
    # The code was not spent by the refused token: a new login takes it.
    assert mfa_login(mode, alice, alice.app.code()).mode == mode


def test_a_token_completes_the_login_of_its_own_user_only(mode, alice, make_user, enable_totp):
    bob = enable_totp(make_user("bob"))
    alice_client = ModeClient(mode)
    alice_token = mfa_begin(alice_client, alice.username)
    bob_client = ModeClient(mode)
    mfa_begin(bob_client, bob.username)
    # Bob's code is no code of Alice's.
    if bob.app.code() != alice.app.code():
        response = mfa_complete(bob_client, alice_token, bob.app.code())
        _error(response, 400, "mfa_code_not_valid")
    _error(mfa_complete(bob_client, alice_token, bob.recovery_codes[0]), 400, "mfa_code_not_valid")
    # Whoever presents Alice's token with her code logs in as Alice, never as themselves.
    response = mfa_complete(bob_client, alice_token, alice.app.code())
    assert response.status_code == 200, response.content
    profile = bob_client.request("get", bob_client.profile_path)
    assert profile.json()["username"] == alice.username
    assert LoginFamily.objects.get().user_id == alice.user.pk
    assert not LoginFamily.objects.filter(user_id=bob.user.pk).exists()


def test_a_token_answers_in_the_mode_it_began_in_whoever_presents_it(alice, make_user):
    """A session login's token, presented with a Bearer token and JWT cookies, gives a session."""
    carol = ModeClient("jwt-header")
    assert carol.login(make_user("carol").get_username(), PASSWORD).status_code == 200
    browser = ModeClient("session")
    token = mfa_begin(browser, alice.username)
    # The holder sends Carol's Bearer token and JWT cookie, and the browser's CSRF token.
    holder = ModeClient("session", browser.client)
    holder.use_bearer(carol.bearer)
    holder.client.cookies[dualauth_settings.ACCESS_COOKIE_NAME] = carol.bearer
    response = mfa_complete(holder, token, alice.app.code())
    assert response.status_code == 200, response.content
    assert response.json()["username"] == alice.username
    assert not {"access", "refresh"} & set(response.json())
    assert response.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert dualauth_settings.ACCESS_COOKIE_NAME not in response.cookies
    assert LoginFamily.objects.get(user_id=alice.user.pk).mode == "session"


def test_a_token_of_the_token_endpoint_answers_a_pair_even_to_a_browser(alice):
    token = mfa_begin(ModeClient("jwt-header"), alice.username)
    browser = ModeClient("session")
    response = mfa_complete(browser, token, alice.app.code())
    assert response.status_code == 200, response.content
    assert set(response.json()) >= {"access", "refresh"}
    assert not response.cookies
    assert LoginFamily.objects.get().mode == "jwt-header"


def test_a_password_changed_between_the_steps_ends_the_login(mode, alice):
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    user = User.objects.get(pk=alice.user.pk)
    user.set_password("a brand new passphrase 42")
    user.save()
    _error(mfa_complete(client, token, alice.app.code()), 400, "mfa_token_not_valid")
    assert not LoginFamily.objects.exists()
    assert not MfaChallenge.objects.exists()


def test_a_user_deactivated_between_the_steps_is_not_logged_in(mode, alice):
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    User.objects.filter(pk=alice.user.pk).update(is_active=False)
    response = mfa_complete(client, token, alice.app.code())
    assert response.status_code == 400, response.content
    assert not LoginFamily.objects.exists()


def test_a_factor_removed_between_the_steps_leaves_the_code_worthless(mode, alice):
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    TotpDevice.objects.filter(user_id=alice.user.pk).delete()
    _error(mfa_complete(client, token, alice.app.code()), 400, "mfa_code_not_valid")
    assert not LoginFamily.objects.exists()


# Throttling.


def test_wrong_codes_count_like_wrong_passwords(mode, alice):
    limit = dualauth_settings.LOGIN_FAILURES_PER_USERNAME
    client, token, attempts = ModeClient(mode), "", 0
    for failure in range(limit):
        if not token or attempts == dualauth_settings.MFA_MAX_ATTEMPTS:
            token, attempts = mfa_begin(ModeClient(mode), alice.username), 0
        _error(mfa_complete(client, token, "000000"), 400, "mfa_code_not_valid")
        attempts += 1
        if failure == limit - 2:
            # One failure short of the limit, the password still gets through.
            assert ModeClient(mode).login(alice.username, PASSWORD).status_code == 202
    response = ModeClient(mode).login(alice.username, PASSWORD)
    _error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert not LoginFamily.objects.exists()


def test_a_wrong_code_is_throttled_once_over_the_limit(mode, alice):
    limit = dualauth_settings.LOGIN_FAILURES_PER_USERNAME
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    for _ in range(limit):
        wrong = ModeClient(mode).login(alice.username, "not the password")
        _error(wrong, 401, "invalid_credentials")
    response = mfa_complete(client, token, alice.app.code())
    _error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert not LoginFamily.objects.exists()


@pytest.mark.parametrize("mode", MODES)
def test_failures_elsewhere_do_not_lock_the_owner_out_of_a_known_device(mode, alice, clock):
    owner = mfa_login(mode, alice, alice.app.code())
    device = {"device_token": owner.tokens["device_token"]} if mode == "jwt-header" else {}
    clock.shift(STEP)
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        _error(ModeClient(mode).login(alice.username, "wrong"), 401, "invalid_credentials")
    token = mfa_begin(owner, alice.username, **device)
    assert mfa_complete(owner, token, alice.app.code()).status_code == 200


def test_with_redis_stopped_wrong_codes_on_new_mfa_tokens_are_still_bounded(
    own_redis, fallback, alice
):
    own_redis.stop()
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        client = ModeClient("jwt-header")
        token = mfa_begin(client, alice.username)
        _error(mfa_complete(client, token, "000000"), 400, "mfa_code_not_valid")
    client = ModeClient("jwt-header")
    _error(client.login(alice.username, PASSWORD), 429, "throttled")


def test_a_known_device_presented_at_the_second_step_is_not_locked_out(alice, clock):
    owner = mfa_login("jwt-header", alice, alice.app.code())
    device = owner.tokens["device_token"]
    clock.shift(STEP)
    token = mfa_begin(ModeClient("jwt-header"), alice.username)
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        _error(ModeClient("jwt-header").login(alice.username, "wrong"), 401, "invalid_credentials")
    body = {"mfa_token": token, "code": alice.app.code(), "device_token": device}
    assert owner.request("post", account_path("mfa-authenticate"), body).status_code == 200


def test_right_codes_do_not_count_against_the_throttle(mode, alice, clock):
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME + 1):
        mfa_login(mode, alice, alice.app.code())
        clock.shift(STEP)
    assert LoginFamily.objects.count() == dualauth_settings.LOGIN_FAILURES_PER_USERNAME + 1


# Recovery codes.


def test_a_recovery_code_completes_a_login_once(mode, alice, audit_events, mails):
    code = alice.recovery_codes[0]
    client = mfa_login(mode, alice, code)
    assert client.request("get", client.profile_path).status_code == 200
    remaining = len(alice.recovery_codes) - 1
    [used] = [e for e in audit_events() if e["event"] == "recovery_code_used"]
    assert used["remaining"] == remaining
    assert used["user_id"] == as_json(alice.user.pk)
    [passed] = [e for e in audit_events() if e["event"] == "mfa_passed"]
    assert passed["method"] == "recovery_code"
    [message] = mails(alice.user.email)
    assert f"{remaining} of your recovery codes" in message.get_body(("plain",)).get_content()
    again = ModeClient(mode)
    response = mfa_complete(again, mfa_begin(again, alice.username), code)
    _error(response, 400, "mfa_code_not_valid")
    assert len(mails(alice.user.email)) == 1


def test_a_recovery_code_is_read_in_any_case_and_grouping(mode, alice, mails):
    code = alice.recovery_codes[1].upper().replace("-", " ")
    assert mfa_login(mode, alice, code).mode == mode


def test_the_methods_offered_follow_the_recovery_codes_left(alice, mails, clock):
    for code in alice.recovery_codes:
        mfa_login("jwt-header", alice, code)
    response = ModeClient("jwt-header").login(alice.username, PASSWORD)
    assert response.json()["methods"] == ["totp"]


# Bad input.


BAD_BODIES: list[Any] = [
    [],
    ["a", "b"],
    "a string",
    42,
    None,
    True,
    {},
    {"code": "123456"},
    {"mfa_token": None, "code": "123456"},
    {"mfa_token": 42, "code": "123456"},
    {"mfa_token": ["x"], "code": "123456"},
    {"mfa_token": {"a": 1}, "code": "123456"},
    {"mfa_token": "x" * 5000, "code": "123456"},
]


def _bad_with_token(token: str) -> list[Any]:
    return [
        {"mfa_token": token},
        {"mfa_token": token, "code": None},
        {"mfa_token": token, "code": ""},
        {"mfa_token": token, "code": 123456},
        {"mfa_token": token, "code": ["123456"]},
        {"mfa_token": token, "code": {"a": "b"}},
        {"mfa_token": token, "code": "9" * 5000},
        {"mfa_token": token, "code": "\x00" * 6},
        {"mfa_token": token, "code": "123456", "webauthn": {}},
        {"mfa_token": token, "webauthn": "x"},
        {"mfa_token": token, "webauthn": []},
        {"mfa_token": token, "webauthn": None},
    ]


CODES = ("validation_error", "mfa_token_not_valid", "mfa_code_not_valid")


def test_garbage_is_a_400_never_a_500(mode, alice, settings):
    _no_throttle(settings)
    client = ModeClient(mode)
    token = mfa_begin(client, alice.username)
    raw = APIClient()
    for body in [*BAD_BODIES, *_bad_with_token(token)]:
        response = client.request("post", account_path("mfa-authenticate"), body)
        assert response.status_code == 400, (body, response.content)
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] in CODES, body
    for content in [b"{", b'{"mfa_token": }', b"\xff\xfe{}", json.dumps("x").encode()]:
        response = raw.post(
            account_path("mfa-authenticate"), content, content_type="application/json"
        )
        assert response.status_code == 400, content
    # The token still completes its login.
    assert mfa_complete(client, token, alice.app.code()).status_code == 200


def test_a_passkey_answer_for_a_login_without_passkeys_is_a_wrong_code(alice):
    client = ModeClient("jwt-header")
    token = mfa_begin(client, alice.username)
    for webauthn in [{}, {"id": "x", "response": {}}, {"id": ["x"], "rawId": 5}]:
        response = client.request(
            "post", account_path("mfa-authenticate"), {"mfa_token": token, "webauthn": webauthn}
        )
        _error(response, 400, "mfa_code_not_valid")


def test_a_user_without_a_factor_logs_in_with_the_password_alone(mode, user):
    response = login(mode, user.get_username())
    assert response.mode == mode
    assert not MfaChallenge.objects.exists()
