"""The browser's redirect sign-in over real HTTP: gunicorn, the test provider, a cookie jar."""

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest
from cryptography.fernet import Fernet

from common.mfa.services import totp_enable, totp_setup_get
from common.models import LoginFamily
from common.providers.models import ProviderIdentity
from tests.common.accounts.conftest import dualauth
from tests.common.mfa.conftest import Authenticator, site_request
from tests.common.providers.conftest import PROVIDER
from tests.conftest import PASSWORD
from tests.live import LiveServer
from tests.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider

MFA_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def server(live_server_factory: Any, shared_op: OidcProvider) -> LiveServer:
    """gunicorn with the provider `test` configured (DEBUG, for the provider's http://)."""
    return live_server_factory(
        workers=1,
        DEBUG="true",
        PROVIDERS=PROVIDER,
        PROVIDER_TEST_ISSUER=shared_op.issuer,
        PROVIDER_TEST_CLIENT_ID=CLIENT_ID,
        PROVIDER_TEST_CLIENT_SECRET=CLIENT_SECRET,
        MFA_ENCRYPTION_KEY=MFA_KEY,
    )


@pytest.fixture
def browser(server: LiveServer) -> Iterator[httpx.Client]:
    """A cookie jar that follows no redirect on its own."""
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=20) as client:
        yield client


def begin(browser: httpx.Client, mode: str = "session", next_path: str = "/welcome") -> str:
    """Start a sign-in: the provider's authorization URL."""
    response = browser.get(
        f"/api/account/providers/{PROVIDER}/redirect/", params={"mode": mode, "next": next_path}
    )
    assert response.status_code == 302, response.text
    return response.headers["location"]


def authorize(browser: httpx.Client, url: str) -> str:
    """The provider's answer to its authorization request: our callback's URL."""
    response = browser.get(url)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=httpx.QueryParams(query).__str__()))


def fragment(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}


@pytest.fixture
def identity(op: OidcProvider) -> dict[str, str]:
    """A new person at the provider, whom the next authorization signs in."""
    name = uuid.uuid4().hex[:10]
    op.user = {"sub": name, "email": f"{name}@example.com"}
    return op.user


@pytest.mark.parametrize("mode", ["session", "jwt-cookie"])
def test_a_redirect_sign_in_ends_signed_in_with_no_secret_in_the_address(
    transactional_db, server, browser, op, identity, mode
):
    authorization = authorize(browser, begin(browser, mode))
    request = parse_qs(urlsplit(authorization).query)
    sent = op.last_authorization
    assert sent["code_challenge_method"] == "S256"
    assert sent["client_id"] == CLIENT_ID
    assert len(sent["state"]) >= 43
    assert len(sent["nonce"]) >= 43
    state_cookie = browser.cookies.get("provider_state")
    assert state_cookie
    response = browser.get(authorization)
    assert response.status_code == 302, response.text
    landing = response.headers["location"]
    assert landing == f"{server.url}/welcome"
    for secret in [request["code"][0], request["state"][0], sent["nonce"]]:
        assert secret not in landing
    set_cookie = response.headers.get_list("set-cookie")
    assert any(c.startswith('provider_state=""') or "provider_state=;" in c for c in set_cookie)
    cookie = "sessionid" if mode == "session" else "access_token"
    assert any(c.startswith(f"{cookie}=") and "HttpOnly" in c for c in set_cookie)
    profile = browser.get("/api/profile/")
    assert profile.status_code == 200, profile.text
    assert profile.headers["auth-mode"] == mode
    assert profile.json()["email"] == identity["email"]
    # The login was the provider's assertion, not a password (docs/API.md, step-up).
    assert LoginFamily.objects.get(mode=mode).amr == "fed"


def test_a_wrong_state_is_refused(transactional_db, server, browser, op, identity):
    callback = authorize(browser, begin(browser))
    response = browser.get(with_query(callback, state="another"))
    assert response.status_code == 302
    assert fragment(response.headers["location"]) == {
        "action": "provider-error",
        "code": "provider_state_not_valid",
    }
    # Another browser, without the cookie, gets nowhere with the right state either.
    with httpx.Client(base_url=server.url, follow_redirects=False) as other:
        response = other.get(callback)
    assert fragment(response.headers["location"])["code"] == "provider_state_not_valid"
    assert not ProviderIdentity.objects.filter(subject=identity["sub"]).exists()


def test_a_code_replayed_is_refused(transactional_db, server, browser, op, identity):
    callback = authorize(browser, begin(browser))
    assert browser.get(callback).headers["location"] == f"{server.url}/welcome"
    # The same answer again: the state is spent with the cookie.
    again = browser.get(callback)
    assert fragment(again.headers["location"])["code"] == "provider_state_not_valid"
    # The old code under a new sign-in's state: the provider refuses the code.
    state = parse_qs(urlsplit(begin(browser)).query)["state"][0]
    response = browser.get(with_query(callback, state=state))
    assert fragment(response.headers["location"])["code"] == "provider_token_not_valid"


def test_a_code_redeemed_with_another_browsers_verifier_is_refused(
    transactional_db, server, browser, op, identity
):
    victims = authorize(browser, begin(browser))
    code = parse_qs(urlsplit(victims).query)["code"][0]
    with httpx.Client(base_url=server.url, follow_redirects=False) as attacker:
        state = parse_qs(urlsplit(begin(attacker)).query)["state"][0]
        response = attacker.get(with_query(victims, state=state, code=code))
    assert fragment(response.headers["location"])["code"] == "provider_token_not_valid"
    assert not ProviderIdentity.objects.filter(subject=identity["sub"]).exists()


def test_a_denial_at_the_provider_comes_back_as_a_code(
    transactional_db, server, browser, op, identity
):
    op.deny = True
    response = browser.get(authorize(browser, begin(browser)))
    assert fragment(response.headers["location"]) == {
        "action": "provider-error",
        "code": "provider_denied",
    }


def test_next_must_be_a_path_of_this_site(transactional_db, server, browser):
    for bad in ["//evil.example/", "https://evil.example/", "/\\evil.example", "welcome"]:
        response = browser.get(
            f"/api/account/providers/{PROVIDER}/redirect/", params={"mode": "session", "next": bad}
        )
        assert response.status_code == 400
        assert response.json()["errors"]["next"]
        assert "location" not in response.headers


def test_an_existing_address_comes_back_as_account_exists(
    transactional_db, server, browser, op, make_user
):
    make_user("carol")
    op.user = {"sub": "carol-at-provider", "email": "carol@example.com"}
    response = browser.get(authorize(browser, begin(browser)))
    assert fragment(response.headers["location"])["code"] == "account_exists"


def test_the_second_step_comes_back_in_the_fragment(
    transactional_db, server, browser, op, make_user, settings
):
    dualauth(settings, MFA_ENCRYPTION_KEYS=[MFA_KEY])
    dave = make_user("dave")
    family = uuid.uuid4()
    app = Authenticator(str(totp_setup_get(user_id=dave.pk, family_id=family)["secret"]))
    totp_enable(user_id=dave.pk, family_id=family, code=app.code(), request=site_request())
    ProviderIdentity.objects.create(
        user=dave, provider=PROVIDER, issuer=op.issuer, subject="dave", linked_at=dave.date_joined
    )
    op.user = {"sub": "dave", "email": "dave@example.com"}
    response = browser.get(authorize(browser, begin(browser)))
    landing = fragment(response.headers["location"])
    assert landing["action"] == "mfa"
    assert landing["methods"].split(",") == ["totp", "recovery_code"]
    assert len(landing["mfa_token"]) >= 40
    assert not any(c.startswith("sessionid=") for c in response.headers.get_list("set-cookie"))
    # The SPA completes the login as after a password: CSRF first, then a code (the next
    # step's: the current one enabled the app).
    csrf = browser.get("/api/session/csrf/").json()["csrf_token"]
    answer = browser.post(
        "/api/account/mfa/authenticate/",
        json={"mfa_token": landing["mfa_token"], "code": app.code(1)},
        headers={"X-CSRFToken": csrf, "Origin": server.url},
    )
    assert answer.status_code == 200, answer.text
    assert browser.get("/api/profile/").json()["email"] == "dave@example.com"
    assert LoginFamily.objects.get(user=dave).amr == "fed otp mfa"


def test_linking_by_redirect_needs_a_fresh_login_and_links_to_it(
    transactional_db, server, browser, op, make_user
):
    erin = make_user("erin")
    op.user = {"sub": "erin-elsewhere", "email": "erin.other@example.com"}
    response = browser.get(
        f"/api/account/providers/{PROVIDER}/redirect/", params={"mode": "link", "next": "/account"}
    )
    assert fragment(response.headers["location"])["code"] == "not_authenticated"
    csrf = browser.get("/api/session/csrf/").json()["csrf_token"]
    login = browser.post(
        "/api/session/login/",
        json={"username": erin.get_username(), "password": PASSWORD},
        headers={"X-CSRFToken": csrf, "Origin": server.url},
    )
    assert login.status_code == 200, login.text
    response = browser.get(authorize(browser, begin(browser, "link", "/account")))
    assert response.headers["location"] == f"{server.url}/account"
    assert ProviderIdentity.objects.get(subject="erin-elsewhere").user_id == erin.pk
