"""The shared endpoints: the resolver, health, schema, and errors that are always JSON."""

import pytest
from rest_framework.test import APIClient

from common.conf import dualauth_settings
from tests.modes import MODES, ModeClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def bearer(user, password) -> str:
    """A live access token of alice."""
    client = ModeClient("jwt-header")
    client.login("alice", password)
    return str(client.tokens["access"])


@pytest.fixture
def session_browser(user, password) -> ModeClient:
    """A browser with a live session of alice."""
    client = ModeClient("session")
    client.login("alice", password)
    return client


def test_the_resolver_prefers_a_bearer_header_over_cookies(session_browser, bearer):
    session_browser.use_bearer(bearer)
    response = session_browser.request("get", "/api/profile/")
    assert response.status_code == 200
    assert response["Auth-Mode"] == "jwt-header"


def test_the_resolver_uses_the_access_cookie_before_the_session(session_browser, password):
    session_browser.mode = "jwt-cookie"
    session_browser.login("alice", password)
    assert "sessionid" in session_browser.client.cookies
    response = session_browser.request("get", "/api/profile/")
    assert response["Auth-Mode"] == "jwt-cookie"


def test_the_resolver_falls_back_to_the_session_cookie(session_browser):
    response = session_browser.request("get", "/api/profile/")
    assert response.status_code == 200
    assert response["Auth-Mode"] == "session"


@pytest.mark.parametrize(
    "header", ["Bearer garbage", "Bearer", "Bearer a b", "Basic YTpi", "Token x"]
)
def test_a_bad_authorization_header_never_falls_through_to_a_good_session(session_browser, header):
    session_browser.client.credentials(HTTP_AUTHORIZATION=header)
    response = session_browser.request("get", "/api/profile/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert "Bearer" in response["WWW-Authenticate"]


def test_a_bad_access_cookie_never_falls_through_to_a_good_session(session_browser):
    session_browser.client.cookies["access_token"] = "garbage"
    response = session_browser.request("get", "/api/profile/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_a_dead_session_cookie_is_a_401_on_the_resolver(api):
    api.cookies["sessionid"] = "nosuchsession"
    response = api.get("/api/profile/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_the_resolver_checks_csrf_for_a_session_but_not_for_a_bearer(session_browser, bearer):
    response = session_browser.request("post", "/api/logout-all/", csrf=False)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    api = APIClient(enforce_csrf_checks=True)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer}")
    assert api.post("/api/logout-all/").status_code == 204


@pytest.mark.parametrize("mode", ["session", "jwt-cookie"])
def test_logging_out_everywhere_clears_the_browsers_credential_cookies(mode, user, password):
    browser = ModeClient(mode)
    assert browser.login("alice", password).status_code == 200
    response = browser.request("post", "/api/logout-all/")
    assert response.status_code == 204
    names = {"session": ["sessionid"], "jwt-cookie": ["access_token", "refresh_token"]}[mode]
    for name in names:
        assert response.cookies[name].value == "", name
        assert response.cookies[name]["max-age"] == 0, name


def test_password_change_with_a_wrong_old_password_is_a_400_that_changes_nothing(
    session_browser, user, password
):
    response = session_browser.request(
        "post", "/api/password/", {"old_password": "nope", "new_password": "a new passphrase 42"}
    )
    assert response.status_code == 400
    assert "old_password" in response.json()["errors"]
    user.refresh_from_db()
    assert user.check_password(password)


@pytest.mark.parametrize("mode", MODES)
def test_failures_elsewhere_do_not_lock_a_known_device_out_of_changing_the_password(
    user, password, mode
):
    owner = ModeClient(mode)
    assert owner.login("alice", password).status_code == 200
    device = {"device_token": owner.tokens["device_token"]} if mode == "jwt-header" else {}
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME + 1):
        ModeClient("jwt-header").login("alice", "wrong password")
    assert ModeClient(mode).login("alice", password).status_code == 429
    body = {"old_password": password, "new_password": "a new passphrase 42", **device}
    assert owner.request("post", "/api/password/", body).status_code == 204


@pytest.mark.parametrize(
    "new_password", ["short", "12345678901", "password123", "alice@example.com"]
)
def test_password_change_applies_djangos_validators(session_browser, password, new_password):
    response = session_browser.request(
        "post", "/api/password/", {"old_password": password, "new_password": new_password}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "new_password" in response.json()["errors"]


def test_health_reports_each_check(api):
    response = api.get("/api/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_the_schema_is_openapi_3_and_describes_both_security_schemes(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    schemes = schema["components"]["securitySchemes"]
    bearer = schemes["jwtBearer"]
    assert {name: bearer[name] for name in ("type", "scheme", "bearerFormat")} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    # A login bound to a key (RFC 9449) is described where the Bearer scheme is.
    assert "DPoP" in bearer["description"]
    assert schemes["jwtCookie"]["in"] == "cookie"
    assert schemes["session"] == {"type": "apiKey", "in": "cookie", "name": "sessionid"}
    resolver_security = schema["paths"]["/api/profile/"]["get"]["security"]
    assert {name for entry in resolver_security for name in entry} == {
        "jwtBearer",
        "jwtCookie",
        "session",
    }
    assert "/api/jwt/cookie/login/" in schema["paths"]


def test_the_docs_page_is_served(api):
    response = api.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_an_unknown_api_path_is_a_json_404_for_every_method(api, method):
    response = getattr(api, method)("/api/no/such/thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_wrong_method_is_a_json_405(api):
    response = api.delete("/api/health/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_the_jwks_endpoint_is_a_json_404_with_a_shared_secret(api):
    response = api.get("/.well-known/jwks.json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_index_page_is_served(api):
    response = api.get("/")
    assert response.status_code == 200
    assert b"/api/docs/" in response.content


def test_a_request_for_a_foreign_host_is_a_json_400(api, settings):
    settings.DEBUG = False
    response = api.get("/api/profile/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "validation_error"


def test_a_body_over_the_upload_limit_is_refused_unread(api, user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api.post(
        "/api/jwt/token/", {"username": "alice", "password": "x" * 2000}, format="json"
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large.", "code": "request_too_large"}
