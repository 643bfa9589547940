"""Every endpoint of docs/API.md in every mode, over real HTTP, in both configurations the
product runs in (make run's and production's): each one's answer and its main refusals.
"""

import base64
import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.cookies import Morsel, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from common.conf import dualauth_settings
from common.routes import (
    JWT_COOKIE,
    JWT_HEADER,
    MODE_ROUTES,
    MODES,
    SESSION,
    SHARED_ROUTES,
    api_prefix,
)
from tests.clients.conftest import totp_code, totp_code_wrong
from tests.common.accounts.conftest import MAIL_SENT, NEW_PASSWORD
from tests.common.mfa.webauthn.conftest import (
    LOGIN_EDITS,
    REGISTRATION_SAMPLE,
    STILL_VALID,
    login_edit,
)
from tests.http.conftest import (
    TotpAccount,
    passkey_add,
    passkey_login,
    totp_turn_on,
)
from tests.jwt_keys import segment_decode
from tests.mail import key_of, link_of, text_of
from tests.modes import LOGIN_FIELDS, PASSWORD, PROFILE_CHALLENGES, SHARED_CHALLENGE
from tests.sites import (
    A_JWT,
    A_TOKEN,
    CONFIGURATIONS,
    EXERCISED,
    SERVED,
    Account,
    Site,
    TimeBetween,
    account_named,
    cache_directives,
    every_route,
    logged_in_at,
    profile_expected,
)
from tests.stack.clients import StackClient
from tests.webauthn import SoftAuthenticator, attestation_edit

# Production's configuration serves the test database, which pytest-django sets up only for
# a run holding a test marked for it.
pytestmark = [pytest.mark.server, pytest.mark.django_db]
BROWSER_MODES = pytest.mark.parametrize("mode", [SESSION, JWT_COOKIE])
JWT_MODES = pytest.mark.parametrize("mode", [JWT_HEADER, JWT_COOKIE])
Agents = Callable[[str], StackClient]
# The credential cookies each mode keeps in a browser, with their paths.
CREDENTIAL_COOKIE_PATHS = {
    SESSION: {"sessionid": "/"},
    JWT_HEADER: {},
    JWT_COOKIE: {"access_token": "/api/", "refresh_token": "/api/jwt/cookie/"},
}
INDEX_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# A token pair, as a refresh answers it, and as a login of the header mode does.
ACCESS_LIFETIME = int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds())
TOKEN_PAIR = {
    "access": A_JWT,
    "refresh": A_JWT,
    "token_type": "Bearer",
    "expires_in": ACCESS_LIFETIME,
}
TOKEN_LOGIN = {**TOKEN_PAIR, "device_token": A_TOKEN}
# What the API answers a request with no credential, whatever the endpoint.
NOT_AUTHENTICATED = {
    "detail": "Authentication credentials were not provided.",
    "code": "not_authenticated",
}
# The sensitive actions a login must be fresh for: (method, endpoint, body).
SENSITIVE = [
    ("POST", "email-change", {"email": "elsewhere@example.com"}),
    ("POST", "totp", {"code": "123456"}),
    ("DELETE", "totp", None),
    ("POST", "recovery-codes", None),
    ("POST", "passkey-options", None),
    ("DELETE", "passkey-detail", None),
    ("DELETE", "account", None),
]


def set_cookies(response: httpx.Response) -> dict[str, Morsel[str]]:
    """The cookies `response` sets, by name, with their attributes."""
    found: dict[str, Morsel[str]] = {}
    for header in response.headers.get_list("Set-Cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        found.update(jar)
    return found


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert an error answer in the contract's shape, JSON and never cached; its body."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert "no-store" in cache_directives(response)
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str)
    return dict(body)


def unverified_account(site: Site) -> Account:
    """An account signed up over HTTP whose address is not verified yet."""
    account = account_named("una", PASSWORD)
    response = site.signup(account)
    assert response.status_code == 202, response.text
    return account


def assert_no_account(site: Site, email: str) -> None:
    """Assert that no account uses `email`, and that nothing was mailed there: asked for a
    verification mail, the address gets its first mail, saying so.
    """
    resend = public_post(site, "email-resend", {"email": email})
    assert (resend.status_code, resend.json()) == (202, MAIL_SENT)
    assert site.mail(email, 1)["Subject"] == "No account for this address"


def public_post(site: Site, endpoint: str, body: object) -> httpx.Response:
    """POST `body` to a public endpoint, as a client with no credential."""
    with site.client() as http:
        return http.post(site.route(endpoint), json=body)


# The site as a whole.


def test_health_reports_the_database_and_the_cache_ok(site: Site) -> None:
    with site.client() as http:
        response = http.get(site.route("health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}
    assert "no-store" in cache_directives(response)


def test_the_schema_is_openapi_3_and_describes_every_route(site: Site) -> None:
    with site.client() as http:
        response = http.get(site.route("schema"), params={"format": "json"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/vnd.oai.openapi+json")
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    routes = {
        *SHARED_ROUTES.values(),
        *(r for table in MODE_ROUTES.values() for r in table.values()),
    }
    documented = {re.sub(r"<\w+:(\w+)>", r"{\1}", api_prefix() + route) for route in routes}
    assert documented - {"/api/schema/", "/api/docs/"} <= set(schema["paths"])


def test_the_docs_are_swagger_ui_served_from_the_site_not_a_cdn(site: Site) -> None:
    with site.client() as http:
        response = http.get(site.route("docs"))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "swagger-ui" in response.text
    scripts = re.findall(r'<script[^>]* src="([^"]+)"', response.text)
    assert scripts
    assert all(src.startswith("/static/") for src in scripts), scripts
    assert site.route("schema").removeprefix(site.url) in response.text


def test_the_docs_are_served_under_a_policy_naming_their_inline_script_and_style_by_hash(
    site: Site,
) -> None:
    with site.client() as http:
        response = http.get(site.route("docs"))
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["Content-Security-Policy"].split(";")
    )
    inline = re.findall(r"<(script|style)>(.*?)</\1>", response.text, re.DOTALL)
    assert {tag for tag, _ in inline} == {"script", "style"}
    for tag, text in inline:
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy[f"{tag}-src"].split()
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"


def test_the_spa_is_served_under_its_content_security_policy(site: Site) -> None:
    with site.client() as http:
        response = http.get(f"{site.url}/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Content-Security-Policy"] == INDEX_CSP
    assert "<script" in response.text
    assert "<script>" not in response.text


def test_the_jwks_serves_the_key_that_verifies_the_tokens_of_a_key_pair_only(
    site: Site, account: Account, agent: Agents
) -> None:
    access = logged_in_at(site, agent(JWT_HEADER), account).tokens["access"]
    header = segment_decode(access.split(".")[0])
    with site.client() as http:
        response = http.get(f"{site.url}/.well-known/jwks.json")
    assert response.headers["Content-Type"] == "application/json"
    if header["alg"].startswith("HS"):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        return
    assert response.status_code == 200, response.text
    (key,) = [key for key in response.json()["keys"] if key["kid"] == header["kid"]]
    assert "d" not in key
    claims = jwt.decode(
        access,
        jwt.PyJWK(key).key,
        algorithms=[header["alg"]],
        audience=jwt_settings.AUDIENCE,
        issuer=jwt_settings.ISSUER,
    )
    assert claims["token_type"] == "access"


def test_the_metrics_are_served_to_a_loopback_client(site: Site) -> None:
    with site.client() as http:
        response = http.get(f"{site.url}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "no-store" in cache_directives(response)
    assert "# TYPE dualauth_audit_events_total counter" in response.text
    assert "# TYPE dualauth_logins_total counter" in response.text


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_an_unknown_api_path_is_a_json_404_whatever_the_method(site: Site, method: str) -> None:
    with site.client() as http:
        response = http.request(method, f"{site.url}/api/no/such/endpoint/")
    error(response, 404, "not_found")


def test_an_unsafe_request_whose_body_is_not_json_is_a_415(site: Site) -> None:
    account = account_named("form", PASSWORD)
    with site.client() as http:
        response = http.post(
            site.route("signup"),
            data={"username": account.username, "email": account.email, "password": PASSWORD},
        )
    error(response, 415, "unsupported_media_type")
    assert_no_account(site, account.email)


def test_a_get_on_a_state_changing_endpoint_is_a_405(site: Site, signed_in: StackClient) -> None:
    error(signed_in.request("GET", site.route("logout-all")), 405, "method_not_allowed")
    assert signed_in.profile(site.url).status_code == 200


# The CSRF bootstrap of the browser modes.


@BROWSER_MODES
def test_the_csrf_endpoint_answers_its_token_and_sets_a_readable_cookie(
    site: Site, mode: str, agent: Agents
) -> None:
    browser = agent(mode)
    response = browser.request("GET", site.route("csrf", mode))
    assert response.status_code == 200
    assert list(response.json()) == ["csrf_token"]
    cookie = set_cookies(response)["csrftoken"]
    assert not cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    # The token in the body and the cookie both pass the check: they are masks of one secret.
    body_token = response.json()["csrf_token"]
    login = browser.request(
        "POST",
        site.route("login", mode),
        {"username": "nobody", "password": "x"},
        headers={"X-CSRFToken": body_token},
    )
    error(login, 401, "invalid_credentials")


# Logins, in each mode.


def test_a_login_answers_as_its_mode_does(
    site: Site, mode: str, account: Account, agent: Agents
) -> None:
    browser = agent(mode)
    csrf_before = browser.csrf_token(site.route("csrf", mode)) if mode != JWT_HEADER else None
    response = browser.login(site.url, account.username, account.password)
    assert response.status_code == 200, response.text
    assert "no-store" in cache_directives(response)
    cookies = set_cookies(response)
    for name, path in CREDENTIAL_COOKIE_PATHS[mode].items():
        assert cookies[name]["httponly"], name
        assert cookies[name]["samesite"] == "Lax", name
        assert cookies[name]["path"] == path, name
    if mode == JWT_HEADER:
        assert response.json() == TOKEN_LOGIN
        assert cookies == {}
        return
    assert response.json() == profile_expected(account)
    device = cookies["login_device"]
    assert (device["httponly"], device["path"]) == (True, "/")
    assert int(device["max-age"]) == dualauth_settings.DEVICE_TOKEN_LIFETIME.total_seconds()
    # A new CSRF token at every login of a browser.
    assert cookies["csrftoken"].value != csrf_before
    if mode == SESSION:
        max_age = dualauth_settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds()
        assert int(cookies["sessionid"]["max-age"]) == max_age
    else:
        assert int(cookies["access_token"]["max-age"]) == ACCESS_LIFETIME
    assert browser.profile(site.url).headers["Auth-Mode"] == mode


def test_a_wrong_password_and_an_unknown_user_get_one_401_that_sets_nothing(
    site: Site, mode: str, account: Account, agent: Agents
) -> None:
    wrong = agent(mode).login(site.url, account.username, "not the password")
    unknown = agent(mode).login(site.url, f"nobody-{uuid.uuid4().hex}", account.password)
    assert error(unknown, 401, "invalid_credentials") == error(wrong, 401, "invalid_credentials")
    assert unknown.headers["WWW-Authenticate"] == wrong.headers["WWW-Authenticate"]
    for response in (wrong, unknown):
        assert set(set_cookies(response)) <= {"csrftoken"}


def test_a_login_without_a_password_is_a_400_naming_it(
    site: Site, mode: str, account: Account, agent: Agents
) -> None:
    response = agent(mode).request(
        "POST", site.route("login", mode), {"username": account.username}
    )
    assert set(error(response, 400, "validation_error")["errors"]) == {"password"}


def test_the_right_password_of_an_unverified_address_is_a_403_only_it_learns(
    site: Site, mode: str, agent: Agents
) -> None:
    account = unverified_account(site)
    error(
        agent(mode).login(site.url, account.username, "not the password"),
        401,
        "invalid_credentials",
    )
    refused = agent(mode).login(site.url, account.username, account.password)
    error(refused, 403, "email_not_verified")
    assert set(set_cookies(refused)) <= {"csrftoken"}


@BROWSER_MODES
def test_a_browser_login_without_csrf_is_refused(
    site: Site, mode: str, account: Account, agent: Agents
) -> None:
    browser = agent(mode)
    response = browser.request(
        "POST",
        site.route("login", mode),
        {"username": account.username, "password": account.password},
        csrf=False,
    )
    error(response, 403, "csrf_failed")
    assert set(set_cookies(response)) <= {"csrftoken"}
    error(browser.profile(site.url), 401, "not_authenticated")


def test_a_username_over_its_failure_limit_is_throttled_even_with_the_right_password(
    site: Site, mode: str, account: Account, agent: Agents
) -> None:
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        error(agent(mode).login(site.url, account.username, "wrong"), 401, "invalid_credentials")
    throttled = agent(mode).login(site.url, account.username, account.password)
    error(throttled, 429, "throttled")
    window = dualauth_settings.LOGIN_FAILURE_WINDOW.total_seconds()
    assert 0 < int(throttled.headers["Retry-After"]) <= window


# Passwordless logins with a passkey, in each mode.


def test_a_passkey_logs_in_as_its_modes_password_login_does(
    site: Site,
    mode: str,
    passkey_account: Account,
    agent: Agents,
    authenticator: SoftAuthenticator,
) -> None:
    browser = agent(mode)
    before = datetime.now(UTC)
    response = passkey_login(site, browser, authenticator)
    assert response.status_code == 200, response.text
    if mode == JWT_HEADER:
        assert response.json() == TOKEN_LOGIN
    else:
        assert response.json() == profile_expected(passkey_account)
        assert set(CREDENTIAL_COOKIE_PATHS[mode]) <= set(set_cookies(response))
    profile = browser.profile(site.url)
    assert profile.status_code == 200
    assert profile.headers["Auth-Mode"] == mode
    (listed,) = browser.request("GET", site.route("passkeys")).json()
    assert listed["last_used_at"] == TimeBetween(before, datetime.now(UTC))


def test_a_passkey_answer_to_a_used_or_foreign_challenge_is_refused(
    site: Site,
    mode: str,
    passkey_account: Account,
    agent: Agents,
    authenticator: SoftAuthenticator,
) -> None:
    browser = agent(mode)
    started = browser.request("POST", site.route("passkey-login-options"))
    body = started.json()
    assert set(body) == {"challenge_token", "options"}
    assert "allowCredentials" not in body["options"] or not body["options"]["allowCredentials"]
    assert body["options"]["userVerification"] == "required"
    login = {
        "challenge_token": body["challenge_token"],
        "credential": authenticator.authenticate(body["options"], "https://evil.example"),
    }
    error(
        browser.request("POST", site.route("login-passkey", mode), login), 400, "passkey_not_valid"
    )
    # The refused answer burnt the challenge: a right answer to it comes too late.
    login["credential"] = authenticator.authenticate(body["options"], site.url)
    error(
        browser.request("POST", site.route("login-passkey", mode), login), 400, "passkey_not_valid"
    )
    error(browser.profile(site.url), 401, "not_authenticated")


def test_no_spoilt_passkey_answer_is_more_than_a_400(
    site: Site, account: Account, agent: Agents, authenticator: SoftAuthenticator
) -> None:
    # A sample of the tables (tests/common/mfa/webauthn): the server's log is watched for a 500.
    mobile = logged_in_at(site, agent(JWT_HEADER), account)
    for fmt, name, edit in REGISTRATION_SAMPLE:
        options = mobile.request("POST", site.route("passkey-options"))
        answer = SoftAuthenticator().register(options.json(), site.url, fmt=fmt)
        body = {"name": name, "credential": attestation_edit(answer, edit)}
        response = mobile.request("POST", site.route("passkeys"), body)
        if (fmt, name) in STILL_VALID and response.status_code == 201:
            continue
        error(response, 400, "passkey_not_valid")
    assert passkey_add(site, mobile, authenticator).status_code == 201
    for name, edit in LOGIN_EDITS.items():
        started = mobile.request("POST", site.route("passkey-login-options")).json()
        answer = login_edit(authenticator.authenticate(started["options"], site.url), edit)
        login = {"challenge_token": started["challenge_token"], "credential": answer}
        response = mobile.request("POST", site.route("login-passkey", JWT_HEADER), login)
        assert response.status_code == 400, (name, response.text)
        error(response, 400, "passkey_not_valid")


# Refreshing, verifying and ending a login.


@JWT_MODES
def test_a_refresh_rotates_the_login(site: Site, mode: str, signed_in: StackClient) -> None:
    before = dict(signed_in.tokens) or {
        name: signed_in.http.cookies[name] for name in CREDENTIAL_COOKIE_PATHS[mode]
    }
    response = signed_in.refresh(site.url)
    assert response.status_code == 200, response.text
    if mode == JWT_HEADER:
        assert response.json() == TOKEN_PAIR
        assert response.json()["refresh"] != before["refresh"]
    else:
        assert response.json() == {"expires_in": ACCESS_LIFETIME}
        cookies = set_cookies(response)
        assert cookies["refresh_token"].value != before["refresh_token"]
        assert cookies["access_token"]["path"] == "/api/"
    assert signed_in.profile(site.url).status_code == 200


def test_a_refresh_without_its_token_is_refused(site: Site, agent: Agents) -> None:
    mobile = agent(JWT_HEADER)
    error(
        mobile.request("POST", site.route("refresh", JWT_HEADER), {"refresh": "not.a.token"}),
        401,
        "token_not_valid",
    )
    error(mobile.request("POST", site.route("refresh", JWT_HEADER), {}), 400, "validation_error")
    browser = agent(JWT_COOKIE)
    refused = browser.request("POST", site.route("refresh", JWT_COOKIE))
    error(refused, 401, "not_authenticated")
    assert refused.headers["WWW-Authenticate"] == 'Cookie realm="api", cookie-name="refresh_token"'


def test_a_cookie_refresh_without_csrf_is_refused(
    site: Site, account: Account, agent: Agents
) -> None:
    browser = logged_in_at(site, agent(JWT_COOKIE), account)
    response = browser.request("POST", site.route("refresh", JWT_COOKIE), csrf=False)
    error(response, 403, "csrf_failed")
    assert set_cookies(response) == {}


def test_verify_accepts_a_token_exactly_while_the_profile_would(
    site: Site, account: Account, agent: Agents
) -> None:
    mobile = logged_in_at(site, agent(JWT_HEADER), account)
    verify = site.route("verify", JWT_HEADER)
    first = dict(mobile.tokens)
    assert mobile.request("POST", verify, {"token": first["access"]}).json() == {}
    assert mobile.refresh(site.url).status_code == 200
    error(mobile.request("POST", verify, {"token": first["refresh"]}), 401, "token_not_valid")
    error(mobile.request("POST", verify, {"token": "not.a.token"}), 401, "token_not_valid")
    assert mobile.logout(site.url).status_code == 204
    error(mobile.request("POST", verify, {"token": mobile.tokens["access"]}), 401, "token_revoked")


def test_a_logout_ends_the_login_and_clears_its_cookies(
    site: Site, mode: str, signed_in: StackClient
) -> None:
    response = signed_in.logout(site.url)
    assert response.status_code == 204, response.text
    cookies = set_cookies(response)
    for name in CREDENTIAL_COOKIE_PATHS[mode]:
        assert cookies[name].value == ""
        assert int(cookies[name]["max-age"]) == 0
    if mode == JWT_HEADER:
        # The refresh token of a login that is over logs nothing out.
        error(signed_in.logout(site.url), 401, "token_revoked")
    else:
        error(signed_in.logout(site.url), 401, "not_authenticated")


# The profile, each mode's endpoint and the shared one.


def test_each_modes_profile_endpoint_takes_only_its_own_credential(
    site: Site, account: Account, agent: Agents
) -> None:
    session = logged_in_at(site, agent(SESSION), account)
    cookie = logged_in_at(site, agent(JWT_COOKIE), account)
    # The session endpoint ignores any Authorization header.
    ignored = session.request(
        "GET", site.route("profile", SESSION), headers={"Authorization": "Bearer x"}
    )
    assert ignored.headers["Auth-Mode"] == SESSION
    # The header endpoint takes a Bearer token only: cookies do not count there.
    for browser in (session, cookie):
        refused = browser.request("GET", site.route("profile", JWT_HEADER))
        assert error(refused, 401, "not_authenticated") == NOT_AUTHENTICATED
        assert refused.headers["WWW-Authenticate"] == PROFILE_CHALLENGES[JWT_HEADER]


def test_the_shared_profile_takes_the_credential_of_every_mode(
    site: Site, mode: str, signed_in: StackClient, account: Account
) -> None:
    read = signed_in.request("GET", site.route("profile"))
    assert read.headers["Auth-Mode"] == mode
    assert read.json() == profile_expected(account)
    edited = signed_in.request("PATCH", site.route("profile"), {"bio": mode})
    assert edited.headers["Auth-Mode"] == mode
    assert edited.json() == profile_expected(account, bio=mode)


def test_on_the_shared_profile_the_first_credential_present_decides(
    site: Site, account: Account, agent: Agents
) -> None:
    profile = site.route("profile")
    browser = logged_in_at(site, agent(SESSION), account)
    assert browser.request("GET", profile).headers["Auth-Mode"] == SESSION
    # The same browser logs in with token cookies too: the access cookie comes before the session.
    body = {"username": account.username, "password": account.password}
    assert browser.request("POST", site.route("login", JWT_COOKIE), body).status_code == 200
    assert browser.request("GET", profile).headers["Auth-Mode"] == JWT_COOKIE
    # A Bearer token comes before both.
    bearer = logged_in_at(site, agent(JWT_HEADER), account).tokens["access"]
    read = browser.request("GET", profile, headers={"Authorization": f"Bearer {bearer}"})
    assert read.headers["Auth-Mode"] == JWT_HEADER
    # A bad credential is a 401, never a fall-through to the next.
    bad = browser.request("GET", profile, headers={"Authorization": "Bearer not.a.token"})
    error(bad, 401, "token_not_valid")
    assert bad.headers["WWW-Authenticate"] == SHARED_CHALLENGE


# The logins of a user, as each mode lists them.


def test_the_list_of_logins_shows_this_one_current_with_the_contracts_fields(
    site: Site, mode: str, signed_in: StackClient, agent: Agents, account: Account
) -> None:
    logins = site.route("logins", mode)
    rows = signed_in.request("GET", logins).json()
    assert [set(row) for row in rows] == [LOGIN_FIELDS]
    (row,) = rows
    assert row["current"] is True
    assert str(uuid.UUID(row["id"])) == row["id"]
    assert row["last_used_at"] == row["last_seen_at"]
    assert row["ip"] == "127.0.0.1"
    assert row["user_agent"] == signed_in.http.headers["User-Agent"]
    another = logged_in_at(site, agent(mode), account)
    both = another.request("GET", logins).json()
    assert {(r["id"], r["current"]) for r in both if r["id"] == row["id"]} == {(row["id"], False)}
    assert sorted(r["current"] for r in both) == [False, True]
    other_id = uuid.uuid4()
    error(
        signed_in.request("DELETE", site.route("login-revoke", mode, family_id=other_id)),
        404,
        "not_found",
    )


# The endpoints of the shared resolver, with each mode's credential.


def test_a_password_change_with_a_wrong_old_password_or_a_weak_new_one_is_a_400(
    site: Site, signed_in: StackClient, account: Account
) -> None:
    password = site.route("password")
    wrong = signed_in.request(
        "POST", password, {"old_password": "not it", "new_password": NEW_PASSWORD}
    )
    assert "old_password" in error(wrong, 400, "validation_error")["errors"]
    weak = signed_in.request(
        "POST", password, {"old_password": account.password, "new_password": "123"}
    )
    assert "new_password" in error(weak, 400, "validation_error")["errors"]
    assert signed_in.profile(site.url).status_code == 200


def test_the_shared_endpoints_without_a_credential_are_a_401_naming_both_schemes(
    site: Site, agent: Agents
) -> None:
    anonymous = agent(JWT_HEADER)
    for method, endpoint in [
        ("GET", "profile"),
        ("POST", "logout-all"),
        ("POST", "password"),
        ("GET", "account"),
        ("POST", "reauthenticate"),
        ("GET", "totp"),
        ("GET", "recovery-codes"),
        ("GET", "passkeys"),
    ]:
        response = anonymous.request(method, site.route(endpoint))
        assert error(response, 401, "not_authenticated") == NOT_AUTHENTICATED, endpoint
        assert response.headers["WWW-Authenticate"] == SHARED_CHALLENGE, endpoint


# The account.


def test_the_account_shows_the_address_and_its_factors(
    site: Site, mode: str, signed_in: StackClient, account: Account
) -> None:
    response = signed_in.request("GET", site.route("account"))
    assert response.status_code == 200, response.text
    assert response.headers["Auth-Mode"] == mode
    assert response.json() == {
        "username": account.username,
        "email": account.email,
        "email_verified": True,
        "mfa": {"totp": False, "passkeys": 0, "recovery_codes_left": 0},
    }


def test_a_signup_mails_a_key_that_verifies_the_address_once(site: Site) -> None:
    account = account_named("sig", PASSWORD)
    response = site.signup(account)
    assert response.status_code == 202
    assert response.json() == {
        "detail": "Check your mail to verify your address.",
        "code": "verification_sent",
    }
    mail = site.mail(account.email, 1)
    assert mail["Subject"] == "Confirm your email address"
    assert site.url in text_of(mail)
    verify = public_post(site, "email-verify", {"key": key_of(mail), "password": account.password})
    assert verify.status_code == 200
    assert verify.json() == {"email": account.email, "verified": True}
    used = {"key": key_of(mail), "password": account.password}
    error(public_post(site, "email-verify", used), 400, "key_not_valid")
    error(public_post(site, "email-verify", {"key": "not-a-key"}), 400, "key_not_valid")


def test_a_signup_refuses_a_taken_name_a_weak_password_and_a_bad_address(
    site: Site, account: Account
) -> None:
    fresh = account_named("sig", PASSWORD)
    for body, field in [
        (
            {"username": account.username.upper(), "email": fresh.email, "password": PASSWORD},
            "username",
        ),
        ({"username": fresh.username, "email": fresh.email, "password": "password"}, "password"),
        ({"username": fresh.username, "email": "not an address", "password": PASSWORD}, "email"),
    ]:
        response = public_post(site, "signup", body)
        assert field in error(response, 400, "validation_error")["errors"], body
    assert_no_account(site, fresh.email)


def test_a_signup_with_a_known_address_answers_the_same_and_mails_its_owner(
    site: Site, account: Account
) -> None:
    squatter, fresh = account_named("sqt", PASSWORD), account_named("sig", PASSWORD)
    known = public_post(
        site,
        "signup",
        {"username": squatter.username, "email": account.email.upper(), "password": PASSWORD},
    )
    new = public_post(
        site, "signup", {"username": fresh.username, "email": fresh.email, "password": PASSWORD}
    )
    assert (known.status_code, known.json()) == (new.status_code, new.json())
    assert site.mail(account.email, 2)["Subject"] == "You already have an account"
    assert site.mail(fresh.email, 1)["Subject"] == "Confirm your email address"
    # What follows tells nothing either: each name is held, and its password is told to verify.
    for name in (squatter.username, fresh.username):
        with site.client(JWT_HEADER) as http:
            login = http.post(
                site.route("login", JWT_HEADER), json={"username": name, "password": PASSWORD}
            )
        error(login, 403, "email_not_verified")
        again = {"username": name, "email": f"{name}.again@example.com", "password": PASSWORD}
        assert (
            "username"
            in error(public_post(site, "signup", again), 400, "validation_error")["errors"]
        )


def test_a_resent_verification_key_verifies_the_address(site: Site, agent: Agents) -> None:
    account = unverified_account(site)
    response = public_post(site, "email-resend", {"email": account.email})
    assert response.status_code == 202
    assert response.json() == MAIL_SENT
    key = key_of(site.mail(account.email, 2))
    verify = public_post(site, "email-verify", {"key": key, "password": account.password})
    assert verify.json() == {"email": account.email, "verified": True}
    logged_in_at(site, agent(JWT_HEADER), account)
    again = public_post(site, "email-resend", {"email": account.email})
    assert (again.status_code, again.json()) == (202, MAIL_SENT)
    assert site.mail(account.email, 3)["Subject"] == "Your email address is already confirmed"


def test_a_password_reset_ends_every_login_and_its_key_works_once(
    site: Site, account: Account, agent: Agents
) -> None:
    logins = [logged_in_at(site, agent(mode), account) for mode in MODES]
    response = public_post(site, "password-reset", {"email": account.email})
    assert (response.status_code, response.json()) == (202, MAIL_SENT)
    mail = site.mail(account.email, 2)
    assert mail["Subject"] == "Reset your password"
    key = key_of(mail)
    confirm = site.route("password-reset-confirm")
    weak = public_post(site, "password-reset-confirm", {"key": key, "new_password": "123"})
    assert "new_password" in error(weak, 400, "validation_error")["errors"]
    with site.client() as http:
        done = http.post(confirm, json={"key": key, "new_password": NEW_PASSWORD})
        assert done.status_code == 204, done.text
        again = http.post(confirm, json={"key": key, "new_password": NEW_PASSWORD + "!"})
    error(again, 400, "key_not_valid")
    for login in logins:
        assert login.profile(site.url).status_code == 401, login.mode
    error(agent(SESSION).login(site.url, account.username, PASSWORD), 401, "invalid_credentials")
    assert agent(SESSION).login(site.url, account.username, NEW_PASSWORD).status_code == 200


def test_a_password_reset_for_an_unknown_address_answers_the_same(site: Site) -> None:
    stranger = account_named("nobody", PASSWORD)
    response = public_post(site, "password-reset", {"email": stranger.email})
    assert (response.status_code, response.json()) == (202, MAIL_SENT)
    assert site.mail(stranger.email, 1)["Subject"] == "No account for this address"


def test_an_address_change_waits_for_the_new_addresss_key(
    site: Site, mode: str, signed_in: StackClient, account: Account
) -> None:
    change = site.route("email-change")
    error(signed_in.request("POST", change, {"email": account.email}), 400, "validation_error")
    new_address = account_named("moved", PASSWORD).email
    response = signed_in.request("POST", change, {"email": new_address})
    assert (response.status_code, response.json()) == (202, MAIL_SENT)
    assert signed_in.request("GET", site.route("account")).json()["email"] == account.email
    mail = site.mail(new_address, 1)
    assert mail["Subject"] == "Confirm your new email address"
    verified = public_post(site, "email-verify", {"key": key_of(mail)})
    assert verified.json() == {"email": new_address, "verified": True}
    assert signed_in.request("GET", site.route("account")).json()["email"] == new_address
    assert site.mail(account.email, 2)["Subject"] == "The email address of your account was changed"
    assert site.mail(new_address, 2)["Subject"] == "The email address of your account was changed"


def test_the_undo_key_of_an_address_change_restores_it_and_ends_every_login(
    site: Site, mode: str, signed_in: StackClient, account: Account
) -> None:
    new_address = account_named("taken", PASSWORD).email
    response = signed_in.request("POST", site.route("email-change"), {"email": new_address})
    assert response.status_code == 202, response.text
    public_post(site, "email-verify", {"key": key_of(site.mail(new_address, 1))})
    told = site.mail(account.email, 2)
    [key] = parse_qs(urlsplit(link_of(told)).fragment)["key"]
    undone = public_post(site, "undo", {"key": key})
    assert (undone.status_code, undone.json()) == (200, {"undone": "email_changed"})
    error(public_post(site, "undo", {"key": key}), 400, "key_not_valid")
    assert signed_in.request("GET", site.route("account")).status_code == 401
    assert site.mail(account.email, 3)["Subject"] == "Reset your password"


def test_reauthenticating_with_the_password_makes_the_login_fresh(
    site: Site, mode: str, signed_in: StackClient, account: Account
) -> None:
    reauthenticate = site.route("reauthenticate")
    wrong = signed_in.request("POST", reauthenticate, {"password": "not it"})
    assert "password" in error(wrong, 400, "validation_error")["errors"]
    before = datetime.now(UTC)
    response = signed_in.request("POST", reauthenticate, {"password": account.password})
    assert response.status_code == 200, response.text
    window = dualauth_settings.REAUTH_WINDOW
    assert response.json() == {
        "reauthenticated_until": TimeBetween(before + window, datetime.now(UTC) + window)
    }


def test_a_login_that_is_not_fresh_is_refused_every_sensitive_action(
    site: Site, stale_site: Site, mode: str, account: Account, agent: Agents
) -> None:
    stale = logged_in_at(stale_site, agent(mode), account)
    for method, endpoint, body in SENSITIVE:
        url = stale_site.route(endpoint, passkey_id=1)
        error(stale.request(method, url, body), 403, "reauthentication_required")
    # Any login may read.
    assert stale.request("GET", stale_site.route("account")).status_code == 200


def test_deleting_the_account_ends_its_logins_and_clears_the_cookies(
    site: Site, mode: str, signed_in: StackClient, account: Account, agent: Agents
) -> None:
    others = [logged_in_at(site, agent(other_mode), account) for other_mode in MODES]
    replay = site.replay_of(signed_in)
    response = signed_in.request("DELETE", site.route("account"))
    assert response.status_code == 204, response.text
    cookies = set_cookies(response)
    for name in CREDENTIAL_COOKIE_PATHS[mode]:
        assert cookies[name].value == "", name
    for login in (replay, *others):
        assert login.profile(site.url).status_code == 401, login.mode
    error(
        agent(mode).login(site.url, account.username, account.password), 401, "invalid_credentials"
    )


# Second factors.


def test_an_authenticator_app_is_set_up_turned_on_and_removed(
    site: Site, mode: str, signed_in: StackClient, account: Account
) -> None:
    totp = site.route("totp")
    setup = signed_in.request("GET", totp)
    assert setup.status_code == 200
    body = setup.json()
    assert set(body) == {"enabled", "secret", "otpauth_url", "qr_svg"}
    assert body["enabled"] is False
    assert body["otpauth_url"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_url"]
    assert body["qr_svg"].lstrip().startswith(("<?xml", "<svg"))
    assert signed_in.request("GET", totp).json()["secret"] == body["secret"]
    error(
        signed_in.request("POST", totp, {"code": totp_code_wrong(body["secret"])}),
        400,
        "mfa_code_not_valid",
    )
    secret, codes = totp_turn_on(site, signed_in)
    assert secret == body["secret"]
    assert len(set(codes)) == dualauth_settings.RECOVERY_CODE_COUNT
    assert signed_in.request("GET", totp).json() == {"enabled": True}
    mfa = signed_in.request("GET", site.route("account")).json()["mfa"]
    assert mfa == {"totp": True, "passkeys": 0, "recovery_codes_left": len(codes)}
    assert signed_in.request("DELETE", totp).status_code == 204
    assert signed_in.request("GET", totp).json()["enabled"] is False
    assert signed_in.request("GET", site.route("recovery-codes")).json() == {"remaining": 0}


def test_a_login_with_an_app_gives_nothing_until_its_code(
    site: Site, mode: str, totp_account: TotpAccount, agent: Agents
) -> None:
    account = totp_account.account
    browser = agent(mode)
    pending = browser.login(site.url, account.username, account.password)
    assert pending.status_code == 202, pending.text
    assert pending.json() == {
        "detail": "Enter a code from your authenticator app, or use a passkey.",
        "code": "mfa_required",
        "mfa_token": A_TOKEN,
        "methods": ["totp", "recovery_code"],
        "expires_in": int(dualauth_settings.MFA_TOKEN_LIFETIME.total_seconds()),
    }
    assert set(set_cookies(pending)) <= {"csrftoken"}
    error(browser.profile(site.url), 401, "not_authenticated")
    authenticate = site.route("mfa-authenticate")
    token = pending.json()["mfa_token"]
    wrong = {"mfa_token": token, "code": totp_code_wrong(totp_account.secret)}
    error(browser.request("POST", authenticate, wrong), 400, "mfa_code_not_valid")
    right = {"mfa_token": token, "code": totp_code(totp_account.secret)}
    error(
        browser.request("POST", authenticate, {**right, "mfa_token": "not-a-token"}),
        400,
        "mfa_token_not_valid",
    )
    if mode != JWT_HEADER:
        error(browser.request("POST", authenticate, right, csrf=False), 403, "csrf_failed")
    done = browser.answer_take(browser.request("POST", authenticate, right))
    assert done.status_code == 200, done.text
    assert done.json() == (TOKEN_LOGIN if mode == JWT_HEADER else profile_expected(account))
    assert browser.profile(site.url).headers["Auth-Mode"] == mode
    error(browser.request("POST", authenticate, right), 400, "mfa_token_not_valid")


def test_a_recovery_code_completes_a_login_once_and_a_new_set_kills_the_old(
    site: Site, mode: str, totp_account: TotpAccount, agent: Agents
) -> None:
    account, codes = totp_account.account, totp_account.recovery_codes
    authenticate = site.route("mfa-authenticate")

    def second_step(code: str) -> httpx.Response:
        browser = agent(mode)
        token = browser.login(site.url, account.username, account.password).json()["mfa_token"]
        return browser.answer_take(
            browser.request("POST", authenticate, {"mfa_token": token, "code": code})
        )

    assert second_step(codes[0]).status_code == 200
    error(second_step(codes[0]), 400, "mfa_code_not_valid")
    # Mailed after the verification and the notice of the app: the notice of the code used.
    used = site.mail(account.email, 3)
    assert used["Subject"] == "A recovery code was used to sign in to your account"
    browser = agent(mode)
    token = browser.login(site.url, account.username, account.password).json()["mfa_token"]
    browser.answer_take(
        browser.request(
            "POST", authenticate, {"mfa_token": token, "code": totp_code(totp_account.secret)}
        )
    )
    recovery = site.route("recovery-codes")
    assert browser.request("GET", recovery).json() == {"remaining": len(codes) - 1}
    renewed = browser.request("POST", recovery)
    assert renewed.status_code == 200, renewed.text
    assert len(renewed.json()["recovery_codes"]) == dualauth_settings.RECOVERY_CODE_COUNT
    error(second_step(codes[1]), 400, "mfa_code_not_valid")
    assert second_step(renewed.json()["recovery_codes"][0]).status_code == 200


def test_new_recovery_codes_need_a_second_factor(
    site: Site, mode: str, signed_in: StackClient
) -> None:
    error(signed_in.request("POST", site.route("recovery-codes")), 400, "validation_error")


def test_reauthenticating_with_the_apps_code(
    site: Site, mode: str, totp_account: TotpAccount, agent: Agents
) -> None:
    account = totp_account.account
    browser = agent(mode)
    token = browser.login(site.url, account.username, account.password).json()["mfa_token"]
    browser.answer_take(
        browser.request(
            "POST",
            site.route("mfa-authenticate"),
            {"mfa_token": token, "code": totp_code(totp_account.secret)},
        )
    )
    reauthenticate = site.route("reauthenticate")
    wrong = {"code": totp_code_wrong(totp_account.secret)}
    error(browser.request("POST", reauthenticate, wrong), 400, "mfa_code_not_valid")
    right = browser.request("POST", reauthenticate, {"code": totp_code(totp_account.secret, 1)})
    assert right.status_code == 200, right.text


def test_a_passkey_is_added_listed_renamed_and_removed(
    site: Site, mode: str, signed_in: StackClient, authenticator: SoftAuthenticator
) -> None:
    options = signed_in.request("POST", site.route("passkey-options"))
    assert options.status_code == 200, options.text
    assert options.json()["authenticatorSelection"]["userVerification"] == "required"
    forged = authenticator.register(options.json(), "https://evil.example")
    refused = signed_in.request("POST", site.route("passkeys"), {"name": "X", "credential": forged})
    error(refused, 400, "passkey_not_valid")
    before = datetime.now(UTC)
    added = passkey_add(site, signed_in, authenticator)
    assert added.status_code == 201, added.text
    passkey = added.json()
    assert isinstance(passkey["id"], int)
    assert passkey == {
        "id": passkey["id"],
        "name": "Laptop",
        "created_at": TimeBetween(before, datetime.now(UTC)),
        "last_used_at": None,
    }
    assert signed_in.request("GET", site.route("passkeys")).json() == [passkey]
    detail = site.route("passkey-detail", passkey_id=passkey["id"])
    renamed = signed_in.request("PATCH", detail, {"name": "Work"})
    assert renamed.json() == {**passkey, "name": "Work"}
    assert signed_in.request("GET", site.route("account")).json()["mfa"]["passkeys"] == 1
    assert signed_in.request("DELETE", detail).status_code == 204
    error(signed_in.request("DELETE", detail), 404, "not_found")
    assert signed_in.request("GET", site.route("passkeys")).json() == []


def test_a_passkey_completes_the_second_step_of_a_password_login(
    site: Site,
    mode: str,
    passkey_account: Account,
    agent: Agents,
    authenticator: SoftAuthenticator,
) -> None:
    browser = agent(mode)
    pending = browser.login(site.url, passkey_account.username, passkey_account.password)
    assert pending.status_code == 202, pending.text
    assert pending.json()["methods"] == ["webauthn"]
    assertion = authenticator.authenticate(pending.json()["webauthn"], site.url)
    done = browser.answer_take(
        browser.request(
            "POST",
            site.route("mfa-authenticate"),
            {"mfa_token": pending.json()["mfa_token"], "webauthn": assertion},
        )
    )
    assert done.status_code == 200, done.text
    assert browser.profile(site.url).headers["Auth-Mode"] == mode


# The route table: a new endpoint cannot go untested.


def test_every_route_of_the_table_is_exercised_in_both_configurations() -> None:
    assert SERVED, "no configuration served the tests of this module"
    for configuration in CONFIGURATIONS:
        if configuration in SERVED:
            missing = every_route() - EXERCISED[configuration]
            assert not missing, (
                f"never requested over HTTP under {configuration}: {sorted(missing)}"
            )
