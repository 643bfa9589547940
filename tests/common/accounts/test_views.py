"""The account endpoints answer as the contract's table says, in every mode; no input is a 500."""

import json
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from common.accounts.models import Account
from common.conf import dualauth_settings
from common.models import LoginFamily, Profile
from tests.common.accounts.conftest import (
    DEAD_CREDENTIAL_CODE,
    MAIL_SENT,
    NEW_PASSWORD,
    PUBLIC,
    account_path,
    last_key,
    login,
    public_post,
    signup,
)
from tests.conftest import PASSWORD
from tests.mail import link_of
from tests.modes import MODES, ModeClient

pytestmark = pytest.mark.django_db
User = get_user_model()
# The unsafe endpoints that need a login: method, endpoint, body, answer on a fresh login.
UNSAFE = {
    "email change": ("post", "email-change", {"email": "moved@example.com"}, 202),
    "reauthenticate": ("post", "reauthenticate", {"password": PASSWORD}, 200),
    "account deletion": ("delete", "account", None, 204),
}
WITH_LOGIN = {**UNSAFE, "account page": ("get", "account", None, 200)}


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    """Assert an error answer in the contract's shape; its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    return dict(body)


def test_the_account_page_answers_in_every_mode(logged_in, user):
    response = logged_in.request("get", account_path("account"))
    assert response.status_code == 200
    assert response["Auth-Mode"] == logged_in.mode
    assert response.json() == {
        "username": user.get_username(),
        "email": user.email,
        "email_verified": True,
        "mfa": {"totp": False, "passkeys": 0, "recovery_codes_left": 0},
    }


@pytest.mark.parametrize("endpoint", WITH_LOGIN)
def test_an_endpoint_that_needs_a_login_is_a_401_without_one(db, endpoint):
    method, name, body, _ = WITH_LOGIN[endpoint]
    response = getattr(APIClient(), method)(account_path(name), body, format="json")
    _error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"]


@pytest.mark.parametrize("endpoint", WITH_LOGIN)
def test_an_endpoint_that_needs_a_login_is_a_401_once_the_login_is_over(logged_in, endpoint):
    method, name, body, _ = WITH_LOGIN[endpoint]
    credential = logged_in.credential()
    assert logged_in.logout().status_code == 204
    logged_in.replay(credential)
    response = logged_in.request(method, account_path(name), body)
    _error(response, 401, DEAD_CREDENTIAL_CODE[logged_in.mode])


@pytest.mark.parametrize("endpoint", UNSAFE)
def test_an_unsafe_account_request_needs_csrf_exactly_when_a_cookie_authenticated_it(
    logged_in, user, mails, endpoint
):
    method, name, body, success = UNSAFE[endpoint]
    authenticated_at = LoginFamily.objects.get().authenticated_at
    response = logged_in.request(method, account_path(name), body, csrf=False)
    if logged_in.mode == "jwt-header":
        assert response.status_code == success, response.content
        return
    _error(response, 403, "csrf_failed")
    assert User.objects.filter(pk=user.pk, email=user.email).exists()
    assert LoginFamily.objects.get().authenticated_at == authenticated_at
    assert mails() == []


@pytest.mark.parametrize("endpoint", UNSAFE)
def test_an_unsafe_account_request_with_csrf_succeeds_in_every_mode(logged_in, endpoint):
    method, name, body, success = UNSAFE[endpoint]
    response = logged_in.request(method, account_path(name), body)
    assert response.status_code == success, response.content
    assert response["Auth-Mode"] == logged_in.mode


def test_reauthenticate_answers_until_when_the_login_is_fresh(user, clock, mode):
    client = login(mode, user.get_username())
    response = client.request("post", account_path("reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 200
    [until] = response.json().values()
    assert response.json() == {"reauthenticated_until": until}
    assert until.endswith("Z")
    assert datetime.fromisoformat(until) == timezone.now() + dualauth_settings.REAUTH_WINDOW


def test_reauthenticate_with_a_code_is_refused_while_there_is_no_second_factor(logged_in):
    response = logged_in.request("post", account_path("reauthenticate"), {"code": "123456"})
    _error(response, 400, "mfa_code_not_valid")


@pytest.mark.parametrize("body", [{}, {"password": PASSWORD, "code": "123456"}])
def test_reauthenticate_wants_exactly_one_of_password_and_code(logged_in, body):
    response = logged_in.request("post", account_path("reauthenticate"), body)
    _error(response, 400, "validation_error")


def test_an_email_change_answers_mail_sent_and_keeps_the_old_address(logged_in, user, mails):
    response = logged_in.request("post", account_path("email-change"), {"email": "new@x.io"})
    assert response.status_code == 202
    assert response.json() == MAIL_SENT
    assert logged_in.request("get", account_path("account")).json()["email"] == user.email
    assert User.objects.get(pk=user.pk).email == user.email
    assert len(mails("new@x.io")) == 1


def test_deleting_the_account_ends_every_login_and_removes_its_rows(logged_in, user):
    others = [login(mode, user.get_username()) for mode in MODES]
    credential = logged_in.credential()
    assert LoginFamily.objects.filter(user_id=user.pk).count() == 4
    response = logged_in.request("delete", account_path("account"))
    assert response.status_code == 204
    assert response.content == b""
    cleared = {"session": ["sessionid"], "jwt-cookie": ["access_token", "refresh_token"]}
    for name in cleared.get(logged_in.mode, []):
        assert response.cookies[name].value == ""
        assert response.cookies[name]["max-age"] == 0
    logged_in.replay(credential)
    for client in [logged_in, *others]:
        dead = client.request("get", client.profile_path)
        _error(dead, 401, DEAD_CREDENTIAL_CODE[client.mode])
    assert not User.objects.filter(pk=user.pk).exists()
    for model in (Profile, LoginFamily, Account):
        assert not model.objects.filter(user_id=user.pk).exists()
    for mode in MODES:
        assert ModeClient(mode).login(user.get_username(), PASSWORD).status_code == 401


def test_signup_answers_verification_sent_and_logs_nobody_in(mails):
    response = signup("newbie")
    assert response.status_code == 202
    assert set(response.json()) == {"detail", "code"}
    assert response.json()["code"] == "verification_sent"
    assert not response.cookies
    newbie = User.objects.get(username="newbie")
    assert newbie.email == "newbie@example.com"
    assert not Account.objects.get(user=newbie).email_verified
    assert not LoginFamily.objects.exists()
    [message] = mails("newbie@example.com")
    assert "action=verify-email" in link_of(message)


def test_a_weak_password_at_signup_is_a_400_on_password(mails):
    response = signup("newbie", password="newbie")
    assert "password" in _error(response, 400, "validation_error")["errors"]
    assert not User.objects.filter(username="newbie").exists()
    assert mails() == []


def test_verifying_answers_the_address_and_the_account_shows_it_verified(mails):
    assert signup("newbie").status_code == 202
    key = last_key(mails, "newbie@example.com")
    response = public_post("email-verify", {"key": key, "password": PASSWORD})
    assert response.status_code == 200
    assert response.json() == {"email": "newbie@example.com", "verified": True}
    client = login("jwt-header", "newbie")
    assert client.request("get", account_path("account")).json()["email_verified"] is True


@pytest.mark.parametrize("key", ["nonsense", "a.b.c", ".", "a..b", "é.é.é", "A" * 1024])
def test_an_unknown_key_is_a_400_key_not_valid(db, key):
    response = public_post("email-verify", {"key": key})
    body = _error(response, 400, "key_not_valid")
    assert set(body) == {"detail", "code"}
    response = public_post("password-reset-confirm", {"key": key, "new_password": NEW_PASSWORD})
    _error(response, 400, "key_not_valid")


@pytest.mark.parametrize("endpoint", ["email-resend", "password-reset"])
def test_resend_and_reset_answer_mail_sent(user, endpoint):
    response = public_post(endpoint, {"email": user.email})
    assert response.status_code == 202
    assert response.json() == MAIL_SENT


def test_a_reset_confirm_answers_204_and_the_new_password_logs_in(user, mails):
    assert public_post("password-reset", {"email": user.email}).status_code == 202
    key = last_key(mails, user.email)
    response = public_post("password-reset-confirm", {"key": key, "new_password": NEW_PASSWORD})
    assert response.status_code == 204
    assert response.content == b""
    assert ModeClient("jwt-header").login(user.get_username(), PASSWORD).status_code == 401
    login("jwt-header", user.get_username(), NEW_PASSWORD)


@pytest.mark.parametrize("endpoint", PUBLIC)
def test_a_public_endpoint_ignores_the_credentials_a_request_carries(db, endpoint):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION="Bearer garbage")
    client.cookies["sessionid"] = "garbage"
    client.cookies["access_token"] = "garbage"
    response = client.post(account_path(endpoint), {"key": "x"}, format="json")
    assert response.status_code == 400, response.content
    assert "Auth-Mode" not in response


# Bad input: every body that is not what an endpoint takes is a 400 (or 415), never a 500.
FIELDS = {
    "signup": {"username": "newbie", "email": "newbie@example.com", "password": NEW_PASSWORD},
    "email-verify": {"key": "k" * 40},
    "email-resend": {"email": "someone@example.com"},
    "password-reset": {"email": "someone@example.com"},
    "password-reset-confirm": {"key": "k" * 40, "new_password": NEW_PASSWORD},
    "email-change": {"email": "moved@example.com"},
    "reauthenticate": {"password": PASSWORD},
}
# Values of the wrong type, or too long, for any string field.
BAD_VALUES = [None, True, {}, [], {"nested": ["value"]}, [["a"]], "x" * 5000]
BAD_BODIES = [[], ["a", "b"], [{"email": "someone@example.com"}], "a string", 42, None, True]
NUMBERS = {"signup": "email", "email-resend": "email", "password-reset": "email"}


def _deep(depth: int) -> Any:
    body: Any = "bottom"
    for _ in range(depth):
        body = {"a": body}
    return body


def _poster(endpoint: str, user: Any) -> Any:
    """A function that POSTs raw bytes to `endpoint`, logged in (freshly) where it needs it."""
    client = APIClient()
    if endpoint in ("email-change", "reauthenticate"):
        client = login("jwt-header", user.get_username()).client

    def post(content: bytes, content_type: str = "application/json") -> Any:
        return client.post(account_path(endpoint), content, content_type=content_type)

    return post


@pytest.mark.parametrize("endpoint", FIELDS)
def test_a_body_that_is_not_json_is_a_415(user, mails, endpoint):
    post = _poster(endpoint, user)
    for content, content_type in [
        (b"email=someone%40example.com&key=x", "application/x-www-form-urlencoded"),
        (json.dumps(FIELDS[endpoint]).encode(), "text/plain"),
        (
            b"--b\r\nContent-Disposition: form-data; name=key\r\n\r\nx\r\n--b--",
            "multipart/form-data; boundary=b",
        ),
    ]:
        response = post(content, content_type)
        _error(response, 415, "unsupported_media_type")
    assert mails() == []


@pytest.mark.parametrize("endpoint", FIELDS)
def test_a_malformed_json_body_is_a_400_validation_error(user, mails, endpoint, settings):
    # More bodies than one address may send in a window: each call counts, malformed or not.
    settings.DUALAUTH = {**settings.DUALAUTH, "ACCOUNT_REQUESTS_PER_ADDRESS": 1000}
    post = _poster(endpoint, user)
    bodies = [json.dumps(body).encode() for body in BAD_BODIES]
    bodies += [b"{", b'{"email": }', b"\xff\xfe{}", json.dumps(_deep(100)).encode()]
    for field in FIELDS[endpoint]:
        bodies += [json.dumps({**FIELDS[endpoint], field: value}).encode() for value in BAD_VALUES]
    if endpoint in NUMBERS:
        bodies.append(json.dumps({**FIELDS[endpoint], NUMBERS[endpoint]: 12345}).encode())
    for content in bodies:
        response = post(content)
        _error(response, 400, "validation_error")
        assert response.json()["errors"], content
    assert mails() == []
    assert not User.objects.filter(username="newbie").exists()
