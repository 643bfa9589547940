"""JWT mode, row by row of the contract: header transport, then cookie transport."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt import settings as simplejwt_settings

from common.conf import dualauth_settings
from common.models import LoginFamily
from jwt_auth.tokens import FamilyAccessToken, lifetime
from tests.conftest import login_name
from tests.modes import LOGIN_FIELDS, ModeClient

ALICE = login_name("alice")

ACCESS_COOKIE_PATH = "/api/"
REFRESH_COOKIE_PATH = "/api/jwt/cookie/"


@pytest.fixture
def tokens(api, user, password) -> dict:
    """A fresh token pair for alice."""
    response = api.post("/api/jwt/token/", {"username": ALICE, "password": password}, "json")
    assert response.status_code == 200
    return dict(response.json())


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def _refresh(api: APIClient, refresh: str):
    return api.post("/api/jwt/token/refresh/", {"refresh": refresh}, "json")


def test_token_returns_a_pair_and_sets_no_cookie(api, user, password):
    response = api.post("/api/jwt/token/", {"username": ALICE, "password": password}, "json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "device_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == lifetime(FamilyAccessToken).total_seconds()
    assert not response.cookies


def test_token_with_a_wrong_password_is_a_401_invalid_credentials(api, user):
    response = api.post("/api/jwt/token/", {"username": "alice", "password": "nope"}, "json")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert response["WWW-Authenticate"]


@pytest.mark.parametrize(
    "body", [{}, {"username": "alice"}, {"password": "x"}, {"username": "", "password": ""}, []]
)
def test_token_with_missing_fields_is_a_400_naming_them(api, user, body):
    response = api.post("/api/jwt/token/", body, "json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["errors"]


def test_malformed_json_is_a_400_not_a_500(api):
    response = api.generic(
        "POST", "/api/jwt/token/", '{"username": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("header", ["Bearer expired.or.garbage", "Basic YWxpY2U6eA==", "Bearer"])
def test_login_ignores_whatever_credentials_the_request_carries(api, user, password, header):
    api.credentials(HTTP_AUTHORIZATION=header)
    api.cookies["access_token"] = "garbage"
    response = api.post("/api/jwt/token/", {"username": ALICE, "password": password}, "json")
    assert response.status_code == 200


def test_refresh_returns_a_new_refresh_token_and_a_working_access_token(api, tokens):
    response = _refresh(api, tokens["refresh"])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert body["refresh"] != tokens["refresh"]
    assert _bearer(body["access"]).get("/api/jwt/profile/").status_code == 200


def test_a_refresh_repeated_within_the_grace_window_gets_the_very_same_new_refresh_token(
    api, tokens
):
    first = _refresh(api, tokens["refresh"]).json()
    again = _refresh(api, tokens["refresh"])
    assert again.status_code == 200
    assert again.json()["refresh"] == first["refresh"]
    assert _bearer(again.json()["access"]).get("/api/jwt/profile/").status_code == 200
    assert _refresh(api, first["refresh"]).status_code == 200


@pytest.mark.usefixtures("revocation")
def test_reused_refresh_token_revokes_its_family(api, tokens, settings):
    settings.DUALAUTH = {"REFRESH_GRACE_PERIOD": timedelta(0)}
    rotated = _refresh(api, tokens["refresh"]).json()
    reused = _refresh(api, tokens["refresh"])
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_reused"
    assert _refresh(api, rotated["refresh"]).json()["code"] == "token_revoked"
    response = _bearer(rotated["access"]).get("/api/jwt/profile/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert LoginFamily.objects.get().revoke_reason == "reuse"


@pytest.mark.parametrize("refresh", ["garbage", "a.b.c", "x" * 4000])
def test_refresh_with_a_bad_token_is_a_401_token_not_valid(api, refresh):
    response = _refresh(api, refresh)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


@pytest.mark.parametrize("body", [{}, {"refresh": ""}, {"refresh": None}, {"refresh": "x" * 5000}])
def test_refresh_without_a_usable_refresh_field_is_a_400(api, body):
    response = (
        _refresh(api, body.get("refresh"))
        if body
        else api.post("/api/jwt/token/refresh/", body, "json")
    )
    assert response.status_code == 400
    assert "refresh" in response.json()["errors"]


def test_verify_accepts_a_live_access_token(api, tokens):
    response = api.post("/api/jwt/token/verify/", {"token": tokens["access"]}, "json")
    assert response.status_code == 200
    assert response.json() == {}


def test_verify_says_token_revoked_for_a_revoked_token(api, tokens):
    api.post("/api/jwt/logout/", {"refresh": tokens["refresh"]}, "json")
    for token in (tokens["access"], tokens["refresh"]):
        response = api.post("/api/jwt/token/verify/", {"token": token}, "json")
        assert response.status_code == 401
        assert response.json()["code"] == "token_revoked"


@pytest.mark.parametrize("token_type", ["access", "refresh"])
def test_verify_refuses_the_tokens_of_a_deactivated_user(api, tokens, user, token_type):
    user.is_active = False
    user.save()
    response = api.post("/api/jwt/token/verify/", {"token": tokens[token_type]}, "json")
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


@pytest.mark.parametrize("token_type", ["access", "refresh"])
def test_verify_answers_as_the_profile_once_a_deactivation_bypassing_signals_is_seen(
    api, tokens, user, settings, time_machine, token_type
):
    settings.DUALAUTH = {**settings.DUALAUTH, "FAMILY_CACHE_TTL": timedelta(seconds=10)}
    time_machine.move_to(timezone.now(), tick=False)
    profile = _bearer(tokens["access"])
    assert profile.get("/api/jwt/profile/").status_code == 200
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    time_machine.shift(dualauth_settings.FAMILY_CACHE_TTL + timedelta(seconds=1))
    assert profile.get("/api/jwt/profile/").status_code == 401
    response = api.post("/api/jwt/token/verify/", {"token": tokens[token_type]}, "json")
    assert response.status_code == 401


@pytest.mark.parametrize("token_type", ["access", "refresh"])
def test_verify_refuses_the_tokens_of_a_login_begun_under_an_older_password(
    api, tokens, user, token_type
):
    user.set_password("another horse battery staple")
    user.save()
    response = api.post("/api/jwt/token/verify/", {"token": tokens[token_type]}, "json")
    assert response.status_code == 401


def test_verify_says_token_not_valid_for_garbage_and_rotated_refresh_tokens(api, tokens):
    _refresh(api, tokens["refresh"])
    for token in ("garbage", tokens["refresh"]):
        response = api.post("/api/jwt/token/verify/", {"token": token}, "json")
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"


@pytest.mark.usefixtures("revocation")
def test_logout_revokes_the_refresh_and_access_tokens_of_that_login(api, tokens):
    response = api.post("/api/jwt/logout/", {"refresh": tokens["refresh"]}, "json")
    assert response.status_code == 204
    assert _refresh(api, tokens["refresh"]).json()["code"] == "token_revoked"
    profile = _bearer(tokens["access"]).get("/api/jwt/profile/")
    assert profile.status_code == 401
    assert profile.json()["code"] == "token_revoked"


def test_logout_leaves_the_users_other_logins_alone(api, tokens, password):
    other = api.post("/api/jwt/token/", {"username": ALICE, "password": password}, "json")
    api.post("/api/jwt/logout/", {"refresh": tokens["refresh"]}, "json")
    assert _bearer(other.json()["access"]).get("/api/jwt/profile/").status_code == 200


def test_jwt_profile_ignores_cookies(user, password):
    browser = ModeClient("jwt-cookie")
    browser.login(ALICE, password)
    response = browser.request("get", "/api/jwt/profile/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_jwt_profile_refuses_another_authorization_scheme(api, user):
    api.credentials(HTTP_AUTHORIZATION="Basic YWxpY2U6eA==")
    response = api.get("/api/jwt/profile/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_devices_lists_my_live_token_families_with_the_current_one_marked(api, tokens, password):
    api.post("/api/jwt/token/", {"username": ALICE, "password": password}, "json")
    ModeClient("session").login(ALICE, password)
    rows = _bearer(tokens["access"]).get("/api/jwt/devices/").json()
    assert len(rows) == 2
    assert set(rows[0]) == LOGIN_FIELDS
    assert [row["current"] for row in rows].count(True) == 1


@pytest.mark.usefixtures("revocation")
def test_deleting_a_device_revokes_that_family_at_once(api, tokens, password):
    other = api.post("/api/jwt/token/", {"username": ALICE, "password": password}, "json")
    me = _bearer(tokens["access"])
    target = next(row["id"] for row in me.get("/api/jwt/devices/").json() if not row["current"])
    assert me.delete(f"/api/jwt/devices/{target}/").status_code == 204
    assert _bearer(other.json()["access"]).get("/api/jwt/profile/").status_code == 401
    assert _refresh(api, other.json()["refresh"]).json()["code"] == "token_revoked"
    assert me.delete(f"/api/jwt/devices/{target}/").status_code == 404


def test_nothing_in_the_database_would_authenticate(api, tokens, password):
    rotated = _refresh(api, tokens["refresh"]).json()
    browser = ModeClient("jwt-cookie")
    browser.login(ALICE, password)
    secrets = {
        tokens["access"],
        tokens["refresh"],
        rotated["access"],
        rotated["refresh"],
        browser.client.cookies["access_token"].value,
        browser.client.cookies["refresh_token"].value,
    }
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            dump.extend(str(value) for row in cursor.fetchall() for value in row)
    text = "\n".join(dump)
    for secret in secrets:
        assert secret not in text
        assert secret.split(".")[2] not in text


# Cookie transport


@pytest.fixture
def browser(user, password) -> ModeClient:
    """A browser logged in with token cookies."""
    client = ModeClient("jwt-cookie")
    assert client.login(ALICE, password).status_code == 200
    return client


def test_cookie_login_sets_httponly_scoped_cookies_and_no_token_in_the_body(user, password):
    client = ModeClient("jwt-cookie")
    response = client.login(ALICE, password)
    assert response.status_code == 200
    assert response.json()["username"] == ALICE
    assert "access" not in response.json()
    assert "refresh" not in response.json()
    access, refresh = response.cookies["access_token"], response.cookies["refresh_token"]
    assert access["path"] == ACCESS_COOKIE_PATH
    assert refresh["path"] == REFRESH_COOKIE_PATH
    for cookie in (access, refresh):
        assert cookie["httponly"]
        assert cookie["samesite"] == "Lax"
        assert not cookie["secure"]
        assert cookie.value not in response.content.decode()
    access_lifetime = simplejwt_settings.api_settings.ACCESS_TOKEN_LIFETIME
    assert access["max-age"] == int(access_lifetime.total_seconds())


def test_cookie_flags_are_secure_when_the_deployment_is_https(user, password, settings):
    settings.DUALAUTH = {"COOKIE_SECURE": True}
    response = ModeClient("jwt-cookie").login(ALICE, password)
    assert response.cookies["access_token"]["secure"]
    assert response.cookies["refresh_token"]["secure"]


def test_cookie_login_rotates_the_csrf_token(user, password):
    client = ModeClient("jwt-cookie")
    before = client.csrf_token()
    response = client.login(ALICE, password)
    assert response.cookies["csrftoken"].value != before


def test_cookie_login_requires_csrf(api, user, password):
    response = api.post("/api/jwt/cookie/login/", {"username": ALICE, "password": password}, "json")
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert "access_token" not in response.cookies


def test_cookie_refresh_rotates_both_cookies(browser):
    access = browser.client.cookies["access_token"].value
    refresh = browser.client.cookies["refresh_token"].value
    response = browser.request("post", "/api/jwt/cookie/refresh/")
    assert response.status_code == 200
    access_lifetime = simplejwt_settings.api_settings.ACCESS_TOKEN_LIFETIME
    assert response.json() == {"expires_in": int(access_lifetime.total_seconds())}
    assert response.cookies["access_token"].value != access
    assert response.cookies["refresh_token"].value != refresh
    assert response.cookies["refresh_token"]["path"] == REFRESH_COOKIE_PATH
    assert browser.request("get", "/api/profile/").status_code == 200


def test_cookie_refresh_requires_csrf(browser):
    response = browser.request("post", "/api/jwt/cookie/refresh/", csrf=False)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


def test_cookie_refresh_without_a_refresh_cookie_is_a_401(user):
    client = ModeClient("jwt-cookie")
    response = client.request("post", "/api/jwt/cookie/refresh/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Cookie")


def test_cookie_logout_clears_both_cookies_and_revokes_the_family(browser):
    access = browser.client.cookies["access_token"].value
    response = browser.request("post", "/api/jwt/cookie/logout/")
    assert response.status_code == 204
    for name, path in (
        ("access_token", ACCESS_COOKIE_PATH),
        ("refresh_token", REFRESH_COOKIE_PATH),
    ):
        assert response.cookies[name].value == ""
        assert response.cookies[name]["max-age"] == 0
        assert response.cookies[name]["path"] == path
    browser.client.cookies["access_token"] = access
    assert browser.request("get", "/api/profile/").json()["code"] == "token_revoked"
    assert LoginFamily.objects.get().revoked_at is not None


def test_cookie_logout_requires_csrf(browser):
    response = browser.request("post", "/api/jwt/cookie/logout/", csrf=False)
    assert response.status_code == 403
    assert LoginFamily.objects.get().revoked_at is None


def test_a_stale_access_cookie_never_blocks_a_cookie_login(browser, password):
    browser.client.cookies["access_token"] = "stale"
    assert browser.login(ALICE, password).status_code == 200


def test_a_browser_lists_and_revokes_its_devices_with_the_cookie_and_csrf(browser, password):
    other = ModeClient("jwt-header")
    other.login(ALICE, password)
    rows = browser.request("get", "/api/jwt/devices/")
    assert rows.status_code == 200
    assert rows["Auth-Mode"] == "jwt-cookie"
    target = next(row["id"] for row in rows.json() if not row["current"])
    forged = browser.request("delete", f"/api/jwt/devices/{target}/", csrf=False)
    assert forged.status_code == 403
    assert forged.json()["code"] == "csrf_failed"
    assert other.request("get", other.profile_path).status_code == 200
    assert browser.request("delete", f"/api/jwt/devices/{target}/").status_code == 204
    assert other.request("get", other.profile_path).status_code == 401
