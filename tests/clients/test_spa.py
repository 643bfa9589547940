"""The browser SPA at `/`, driven in a real Chromium against a real gunicorn server.

Its account flows run against real mail: the server sends to the tests' SMTP server.
"""

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyotp
import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page, Request, Route, ViewportSize, expect
from rest_framework_simplejwt import settings as simplejwt_settings

from bench.processes import free_port
from common.cache import cache_delete
from common.conf import dualauth_settings
from common.models import LoginFamily, Profile
from common.providers.models import ProviderIdentity
from common.selectors import family_cache_key
from tests.clients.conftest import audit_events, expired_copy
from tests.clients.spa import (
    DESKTOP,
    LOGIN_PATHS,
    MFA,
    MFA_AUTHENTICATE,
    MODE_LABELS,
    PASSKEY_LOGIN_PATHS,
    PROFILE_PATHS,
    SPA_MODES,
    App,
    CspWatch,
    VirtualAuthenticator,
    assert_tokens_unreadable,
    auth_label,
    calls,
    held_cookies,
    passkey_add,
    passkey_items,
    settled,
    sign_in,
    sign_out,
    signed_in_by,
    verify_by_password,
)
from tests.conftest import PASSWORD, require_shared_cache
from tests.jwt_keys import segment_decode
from tests.live import ROOT, LiveServer
from tests.mail import SmtpServer, key_of, link_of, text_of
from tests.nginx import Proxy, nginx_in_front
from tests.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider, OidcServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

ARTIFACTS = ROOT / "test-artifacts"
PHONE: ViewportSize = {"width": 390, "height": 844}
SECOND_DEVICE = "dualauth-second-device/1.0"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
XSS = '<img src=x onerror="window.__pwned=1">'
REFRESH_PATH = "/api/jwt/cookie/refresh/"
REFRESHED = f"POST {REFRESH_PATH} 200 no credential"


@pytest.fixture(scope="module")
def proxy_port() -> int:
    """The port of the nginx in front of the SPA's server, where its mails link to."""
    return free_port()


@pytest.fixture(scope="module")
def spa_server(
    live_server_factory: Callable[..., LiveServer], smtp_server: SmtpServer, proxy_port: int
) -> LiveServer:
    """A server started after the SPA's files are collected, so whitenoise serves them.

    Its account mail goes to the tests' SMTP server and links to the nginx in front of it
    (`proxied`); it logs every request (gunicorn's access log, as in production) with what
    else it writes; users can turn authenticator apps on.
    """
    # Its workers share failed logins and revocations, and each test resets them.
    require_shared_cache()
    call_command("collectstatic", "--noinput", verbosity=0)
    return live_server_factory(
        MFA_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        GUNICORN_CMD_ARGS="--access-logfile=-",
        FRONTEND_URL=f"http://127.0.0.1:{proxy_port}/",
        **smtp_server.env,
    )


@pytest.fixture(scope="module")
def proxied(
    spa_server: LiveServer, proxy_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """The server behind deploy/nginx.conf's nginx, on a port of its own, which serves the
    collected files as the deployment does and logs every request.
    """
    directory = tmp_path_factory.mktemp("nginx")
    static = Path(settings.STATIC_ROOT)
    with nginx_in_front([spa_server], directory, static=static, port=proxy_port) as proxy:
        yield proxy


@pytest.fixture
def paused_clock(context: BrowserContext) -> datetime:
    """Stop the clock of every tab of the profile: it moves only when the test moves it.

    Returns the time at which it stands.
    """
    installed = datetime.now(UTC).replace(microsecond=0)
    context.clock.install(time=installed)
    # A minute on, so that however slowly this runs, the pause is never in the clock's past.
    paused = installed + timedelta(minutes=1)
    context.clock.pause_at(paused)
    return paused


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Write a screenshot to test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=full_page)
    return path


def profile_reload(page: Page) -> None:
    """Click Reload and wait until the page has logged the read."""
    reads = page.locator(".log-entry", has_text="GET /api/profile/")
    before = reads.count()
    page.get_by_role("button", name="Reload").click()
    expect(reads).to_have_count(before + 1)


class Gate:
    """Holds the requests to a path unanswered while closed; lets them through while open."""

    def __init__(self, context: BrowserContext, path: str) -> None:
        self.closed = False
        self.held: list[Route] = []
        context.route(f"**{path}", self._arrived)

    def _arrived(self, route: Route) -> None:
        if self.closed:
            self.held.append(route)
        else:
            route.continue_()

    def open(self) -> None:
        """Let the held requests through, and every later one."""
        self.closed = False
        for route in self.held:
            route.continue_()
        self.held.clear()


def refresh_delay() -> timedelta:
    """When the SPA refreshes after a login or refresh: a quarter of the lifetime early, ≤ 30 s."""
    lifetime = simplejwt_settings.api_settings.ACCESS_TOKEN_LIFETIME
    return lifetime - min(timedelta(seconds=30), lifetime / 4)


@dataclass
class OtherDevice:
    """A second login of the same user, made over plain HTTP."""

    client: httpx.Client
    profile_path: str

    def profile_status(self) -> int:
        """What the server answers this login's credential now."""
        return self.client.get(self.profile_path).status_code


def other_device_login(server: LiveServer, *, mode: str, username: str) -> OtherDevice:
    """Log in again from another client: a session for session mode, a token pair for JWT."""
    client = httpx.Client(base_url=server.url, headers={"User-Agent": SECOND_DEVICE})
    credentials = {"username": username, "password": PASSWORD}
    if mode == "session":
        client.get("/api/session/csrf/")
        response = client.post(
            "/api/session/login/",
            json=credentials,
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
        assert response.status_code == 200, response.text
        return OtherDevice(client, "/api/session/profile/")
    response = client.post("/api/jwt/token/", json=credentials)
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access']}"
    return OtherDevice(client, "/api/jwt/profile/")


@pytest.mark.parametrize("mode", SPA_MODES)
def test_a_user_signs_in_edits_the_profile_revokes_another_login_and_signs_out(
    spa_server: LiveServer, live_user: User, context: BrowserContext, page: Page, mode: str
) -> None:
    logins_path = "/api/session/sessions/" if mode == "session" else "/api/jwt/devices/"
    page.goto(spa_server.url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("link", name="API docs")).to_have_attribute("href", "/api/docs/")
    assert_tokens_unreadable(page)

    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
    expect(page.locator("#profile-username")).to_have_text("alice")
    expect(page.locator(".log-entry", has_text=f"GET {logins_path}").first).to_contain_text(mode)
    assert_tokens_unreadable(page)
    expected = {"sessionid"} if mode == "session" else {"access_token", "refresh_token"}
    assert held_cookies(context) == dict.fromkeys(expected, True)

    page.get_by_label("Display name").fill("A" * 101)
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#profile-display_name-error")).to_contain_text("100 characters")
    expect(page.get_by_label("Display name")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Display name").fill("Alice Liddell")
    page.get_by_label("Bio").fill("Curious. Follows rabbits down holes; reads the docs first.")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("Profile saved.")
    expect(page.locator("#whoami")).to_contain_text("Alice Liddell")
    assert_tokens_unreadable(page)

    page.reload()
    expect(page.get_by_label("Display name")).to_have_value("Alice Liddell")

    other = other_device_login(spa_server, mode=mode, username="alice")
    page.get_by_role("button", name="Refresh list").click()
    other_row = page.locator(".device", has_text=SECOND_DEVICE)
    expect(other_row).to_have_count(1)
    expect(page.locator(".device.current")).to_contain_text("This browser")
    assert_tokens_unreadable(page)
    screenshot(page, f"spa-{mode}-desktop", full_page=True)
    page.set_viewport_size(PHONE)
    screenshot(page, f"spa-{mode}-phone")
    screenshot(page, f"spa-{mode}-phone-full", full_page=True)
    page.set_viewport_size(DESKTOP)

    assert other.profile_status() == 200
    other_row.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(other_row).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("signed out")
    assert other.profile_status() == 401
    assert_tokens_unreadable(page)

    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert held_cookies(context) == {}
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_tokens_unreadable(page)


@pytest.mark.parametrize("mode", SPA_MODES)
def test_the_spa_signs_in_edits_and_signs_out_under_a_strict_csp_without_a_violation(
    spa_server: LiveServer, live_user: User, page: Page, csp_watch: CspWatch, mode: str
) -> None:
    response = page.goto(spa_server.url)
    assert response is not None
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-frame-options"] == "DENY"

    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
    page.get_by_label("Display name").fill("Alice Liddell")
    page.get_by_label("Bio").fill("Follows rabbits.")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("Profile saved.")
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    assert csp_watch.violations() == []


def test_the_api_docs_render_under_their_policy_without_a_violation(
    spa_server: LiveServer, page: Page, csp_watch: CspWatch
) -> None:
    response = page.goto(f"{spa_server.url}/api/docs/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.get_by_text("/api/profile/").first).to_be_visible()
    assert csp_watch.violations() == []


@pytest.fixture(scope="module")
def admin_server(
    live_server_factory: Callable[..., LiveServer], spa_server: LiveServer
) -> LiveServer:
    """A server that serves the Django admin, its files collected (by `spa_server`)."""
    return live_server_factory(ADMIN_ENABLED="true")


def test_the_admin_signs_in_and_lists_users_under_the_page_policy_without_a_violation(
    admin_server: LiveServer, transactional_db: None, staff: User, page: Page, csp_watch: CspWatch
) -> None:
    response = page.goto(f"{admin_server.url}/admin/login/?next=/admin/")
    assert response is not None
    assert response.headers["content-security-policy"] == CSP
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto(f"{admin_server.url}/admin/auth/user/")
    expect(page.get_by_role("link", name=staff.username)).to_be_visible()
    assert csp_watch.violations() == []


def test_markup_in_a_profile_is_shown_as_text_and_an_injected_script_is_blocked(
    spa_server: LiveServer, live_user: User, page: Page, csp_watch: CspWatch
) -> None:
    Profile.objects.filter(user=live_user).update(display_name=XSS, bio=XSS)
    page.goto(spa_server.url)
    sign_in(page, mode="session", username="alice", password=PASSWORD)

    expect(page.locator("#whoami strong")).to_have_text(XSS)
    expect(page.get_by_label("Display name")).to_have_value(XSS)
    expect(page.get_by_label("Bio")).to_have_value(XSS)
    assert page.evaluate("window.__pwned") is None
    assert csp_watch.violations() == []

    # Should a bug ever render it as HTML, or inject a script, the policy still stops it.
    page.evaluate(
        """html => {
            const script = document.createElement("script");
            script.textContent = "window.__pwned = 'script'";
            document.body.append(script);
            document.querySelector("#whoami strong").innerHTML = html;
        }""",
        XSS,
    )
    page.wait_for_function(
        "window.__cspViolations.some(v => v.startsWith('script-src-attr'))"
        " && window.__cspViolations.some(v => v.startsWith('script-src-elem'))"
    )
    assert page.evaluate("window.__pwned") is None


@pytest.mark.parametrize("mode", SPA_MODES)
def test_signing_out_everywhere_ends_every_other_login_too(
    spa_server: LiveServer, live_user: User, page: Page, mode: str
) -> None:
    page.goto(spa_server.url)
    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
    other = other_device_login(spa_server, mode=mode, username="alice")

    page.get_by_role("button", name="Sign out everywhere").click()

    expect(page.get_by_role("status")).to_have_text("Signed out everywhere.")
    assert other.profile_status() == 401
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


@pytest.mark.parametrize("mode", SPA_MODES)
def test_changing_the_password_shows_field_errors_and_signs_out_other_logins(
    spa_server: LiveServer, live_user: User, page: Page, mode: str
) -> None:
    page.goto(spa_server.url)
    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    other = other_device_login(spa_server, mode=mode, username="alice")

    form = page.locator("#password-form")
    form.get_by_label("Current password").fill("not my password")
    form.get_by_label("New password").fill("a brand new passphrase")
    form.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-old_password-error")).to_contain_text("not correct")
    assert other.profile_status() == 200

    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Password changed")
    assert other.profile_status() == 401
    page.get_by_role("button", name="Reload").click()
    expect(page.get_by_role("status")).to_have_text("Profile reloaded.")


@pytest.mark.parametrize("mode", SPA_MODES)
def test_a_wrong_password_shows_its_message(
    spa_server: LiveServer, live_user: User, page: Page, mode: str
) -> None:
    page.goto(spa_server.url)
    sign_in(page, mode=mode, username="alice", password="not the password")

    expect(page.get_by_role("alert").filter(has_text="Invalid")).to_have_text(
        "Invalid username or password."
    )
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_tokens_unreadable(page)


@pytest.fixture(scope="module")
def throttling_server(
    spa_server: LiveServer, live_server_factory: Callable[..., LiveServer]
) -> LiveServer:
    """A server that blocks a username after two failed logins."""
    return live_server_factory(LOGIN_FAILURES_PER_USERNAME="2")


@pytest.mark.parametrize("mode", SPA_MODES)
def test_a_throttled_login_counts_down_the_servers_retry_after_and_ends(
    throttling_server: LiveServer, live_user: User, page: Page, paused_clock: datetime, mode: str
) -> None:
    page.goto(throttling_server.url)
    countdown = page.get_by_role("timer")
    for _ in range(4):
        with page.expect_response(re.compile(r"/login/$")) as response:
            sign_in(page, mode=mode, username="alice", password="not the password")
        if response.value.status == 429:
            break
    else:
        pytest.fail("the login was never throttled")
    retry_after = int(response.value.headers["retry-after"])
    assert retry_after > 1

    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-in attempts")
    minutes, seconds = divmod(retry_after, 60)
    expect(countdown).to_have_text(f"Try again in {minutes}:{seconds:02}")
    screenshot(page, f"spa-{mode}-throttled")
    page.clock.run_for(1000)
    minutes, seconds = divmod(retry_after - 1, 60)
    expect(countdown).to_have_text(f"Try again in {minutes}:{seconds:02}")

    page.clock.fast_forward((retry_after - 1) * 1000)
    expect(countdown).to_be_hidden()
    expect(page.get_by_role("status")).to_have_text("You can try signing in again.")
    expect(page.get_by_role("alert").filter(has_text="Too many")).to_have_count(0)


@pytest.fixture(scope="module")
def graceless_server(
    spa_server: LiveServer, live_server_factory: Callable[..., LiveServer]
) -> LiveServer:
    """A server with no grace for a repeated refresh: a refresh token sent twice ends the login."""
    return live_server_factory(REFRESH_GRACE_SECONDS="0")


def test_jwt_cookies_refresh_silently_at_the_refresh_time_and_not_before(
    graceless_server: LiveServer, live_user: User, page: Page, paused_clock: datetime
) -> None:
    page.goto(graceless_server.url)
    sign_in(page, mode="jwt-cookie", username="alice", password=PASSWORD)
    settled(page)
    due = paused_clock + refresh_delay()

    page.clock.pause_at(due - timedelta(seconds=1))
    profile_reload(page)
    assert calls(page)[0] == "GET /api/profile/ 200 jwt-cookie"
    assert REFRESHED not in calls(page)

    with page.expect_response(lambda response: response.url.endswith(REFRESH_PATH)):
        page.clock.pause_at(due)
    expect(page.locator(".log-entry").first).to_contain_text(REFRESH_PATH)
    profile_reload(page)
    assert calls(page)[:2] == ["GET /api/profile/ 200 jwt-cookie", REFRESHED]
    assert "GET /api/profile/ 401 no credential" not in calls(page)
    assert_tokens_unreadable(page)


@pytest.mark.parametrize("spoiled", ["expired", "dropped"])
def test_a_401_on_jwt_cookies_is_refreshed_once_and_retried(
    graceless_server: LiveServer,
    live_user: User,
    context: BrowserContext,
    page: Page,
    paused_clock: datetime,
    spoiled: str,
) -> None:
    page.goto(graceless_server.url)
    sign_in(page, mode="jwt-cookie", username="alice", password=PASSWORD)
    settled(page)
    # The page's clock stands still, so no timer refreshes: only the server's 401 can.
    name = dualauth_settings.ACCESS_COOKIE_NAME
    if spoiled == "expired":
        (access,) = [cookie for cookie in context.cookies() if cookie["name"] == name]
        context.add_cookies([{**access, "value": expired_copy(access["value"])}])
    else:
        # As the browser drops the cookie at its Max-Age, the access lifetime.
        context.clear_cookies(name=name)

    page.get_by_role("button", name="Reload").click()

    expect(page.get_by_role("status")).to_have_text("Profile reloaded.")
    assert calls(page)[:3] == [
        "GET /api/profile/ 200 jwt-cookie",
        REFRESHED,
        "GET /api/profile/ 401 no credential",
    ]


def test_two_tabs_never_refresh_the_same_token_twice(
    graceless_server: LiveServer,
    live_user: User,
    context: BrowserContext,
    page: Page,
    paused_clock: datetime,
) -> None:
    # Without a grace window, a refresh token sent twice revokes the login: both tabs must
    # take turns and each must see the cookies the other rotated.
    page.goto(graceless_server.url)
    sign_in(page, mode="jwt-cookie", username="alice", password=PASSWORD)
    settled(page)
    other_tab = context.new_page()
    other_tab.goto(graceless_server.url)
    settled(other_tab)
    tabs = (page, other_tab)
    (access,) = [c for c in context.cookies() if c["name"] == dualauth_settings.ACCESS_COOKIE_NAME]
    family_id = str(uuid.UUID(segment_decode(access["value"].split(".")[1])["fam"]))

    gate = Gate(context, REFRESH_PATH)
    turns = (1, 2)
    for turn in turns:
        gate.closed = True
        context.clock.pause_at(paused_clock + turn * refresh_delay())
        # Both tabs' timers have run, by the same expiry, while the first refresh waited
        # unanswered: a tab that did not wait its turn has sent the same refresh token too.
        with context.expect_event(
            "response", lambda response: response.url.endswith(REFRESH_PATH)
        ) as refresh:
            gate.open()
        assert refresh.value.status == 200
        for tab in tabs:
            expect(tab.get_by_role("heading", name="Profile")).to_be_visible()
            profile_reload(tab)
            assert calls(tab)[0] == "GET /api/profile/ 200 jwt-cookie"

    refreshes = [call for tab in tabs for call in calls(tab) if REFRESH_PATH in call]
    # Each turn one tab refreshes; the other may follow, with the cookies the first rotated:
    # a wasted refresh, never a reuse.
    assert set(refreshes) == {REFRESHED}
    assert len(turns) <= len(refreshes) <= len(turns) * len(tabs)
    assert audit_events(graceless_server, "refresh", family_id) == len(refreshes)
    assert audit_events(graceless_server, "reuse_detected", family_id) == 0


# Accounts: sign-up, verification, a forgotten password, the email change and deletion, each
# a whole flow in the browser against a server that sends real mail.

NEW_PASSWORD = "a fresh passphrase nobody knows"


def login_made_stale(user: User) -> None:
    """Age every login of `user` past the re-authentication window, as time would.

    Server processes read a login's state from the database once its cache entry is gone.
    """
    families = LoginFamily.objects.filter(user=user)
    families.update(authenticated_at=timezone.now() - dualauth_settings.REAUTH_WINDOW)
    for family_id in families.values_list("pk", flat=True):
        cache_delete(family_cache_key(family_id, user.pk))


def referers(requests: list[Request]) -> list[str]:
    """The Referer each of `requests` was sent with."""
    return [request.all_headers().get("referer", "") for request in requests]


def stored(page: Page) -> str:
    """Everything the page keeps in web storage."""
    kept: str = page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])")
    return kept


def assert_keys_unlogged(proxy: Proxy, *keys: str, requests: list[str]) -> None:
    """No key is in any log of nginx or of the server behind it, which did log `requests`
    ("POST /path/ 200"): the request lines of their access logs hold no key.
    """
    (server,) = proxy.instances
    logs = {"nginx": proxy.log_text(), "gunicorn": server.log_text()}
    for name, text in logs.items():
        for line in requests:
            method, path, status = line.split()
            assert f'"{method} {path} HTTP/1.1" {status}' in text, (name, line)
        for key in keys:
            assert key not in text, f"{name}'s log holds a mailed key"


@pytest.mark.parametrize("mode", SPA_MODES)
def test_a_visitor_signs_up_is_told_to_verify_verifies_by_the_mailed_link_and_signs_in(
    proxied: Proxy,
    live_user: User,
    smtp: SmtpServer,
    page: Page,
    csp_watch: CspWatch,
    mode: str,
) -> None:
    email = "carol@example.com"
    page.goto(proxied.url)
    page.get_by_role("link", name="Create an account").click()
    form = page.locator("#signup-form")
    username = form.get_by_label("Username")
    expect(username).to_be_focused()
    username.fill("ALICE")
    form.get_by_label("Email address").fill(email)
    form.get_by_label("Password").fill("password")
    form.get_by_role("button", name="Create account").click()
    expect(page.locator("#signup-username-error")).to_contain_text("taken")
    expect(username).to_have_attribute("aria-invalid", "true")
    expect(username).to_be_focused()
    username.fill("carol")
    form.get_by_role("button", name="Create account").click()
    expect(page.locator("#signup-password-error")).to_contain_text("too common")
    expect(form.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    expect(username).not_to_have_attribute("aria-invalid", "true")
    screenshot(page, "spa-signup-errors")
    form.get_by_label("Password").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", name="Check your mail")).to_be_focused()
    expect(page.locator("#mail-address")).to_have_text(email)
    screenshot(page, "spa-check-your-mail")
    smtp.wait(email)
    # Not verified yet: the right password learns why, and may ask for the mail again.
    page.get_by_role("link", name="Back to sign in").click()
    sign_in(page, mode=mode, username="carol", password=NEW_PASSWORD)
    expect(page.locator("#login-error")).to_contain_text("Verify your email address first")
    page.get_by_role("button", name="Send the verification mail again").click()
    expect(page.get_by_role("textbox", name="Email address")).to_have_value(email)
    page.get_by_role("button", name="Send a new link").click()
    expect(page.locator("#mail-address")).to_have_text(email)
    page.get_by_role("button", name="Send the mail again").click()
    expect(page.get_by_role("status")).to_have_text(f"We sent another mail to {email}.")
    mails = smtp.wait(email, count=3)
    assert csp_watch.violations() == []

    link = link_of(mails[-1])
    key = key_of(mails[-1])
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    # In a tab of its own, as a mail app opens it.
    tab = page.context.new_page()
    tab.on("request", lambda request: requests.append(request))
    tab.goto(link)
    assert tab.url == f"{proxied.url}/"
    # A link alone verifies nothing: the password that signed up is asked for.
    verify_by_password(tab, "not the password")
    expect(tab.locator("#verify-password-error")).not_to_be_empty()
    expect(tab.locator("#verify-password")).to_have_attribute("aria-invalid", "true")
    screenshot(tab, "spa-verify-password")
    verify_by_password(tab, NEW_PASSWORD)
    expect(tab.get_by_role("status")).to_have_text(
        f"Your address {email} is verified. You can sign in now."
    )
    assert "POST /api/account/email/verify/ 200 no credential" in calls(tab)
    # Not even this site's own files were asked for with the key in a Referer.
    assert len(requests) > 3
    assert not [referer for referer in referers(requests) if key in referer]
    assert not [request.url for request in requests if key in request.url]
    assert key not in stored(tab)
    assert_keys_unlogged(
        proxied,
        *[key_of(mail) for mail in mails],
        requests=["GET / 200", "POST /api/account/email/verify/ 200"],
    )

    sign_in(tab, mode=mode, username="carol", password=NEW_PASSWORD)
    settled(tab)
    expect(tab.locator("#profile-username")).to_have_text("carol")
    expect(tab.locator("#account-email")).to_have_text(email)
    expect(tab.locator("#account-verified")).to_have_text("Yes")
    assert csp_watch.violations() == []


def test_a_verification_link_that_is_not_valid_offers_a_new_mail(
    spa_server: LiveServer, live_user: User, smtp: SmtpServer, page: Page
) -> None:
    page.goto(f"{spa_server.url}/#action=verify-email&key=not-a-key-of-ours")
    verify_by_password(page, PASSWORD)

    expect(page.locator("#resend-error")).to_contain_text("This link is not valid")
    assert page.url == f"{spa_server.url}/"
    page.get_by_role("textbox", name="Email address").fill(live_user.email)
    page.get_by_role("button", name="Send a new link").click()
    expect(page.locator("#mail-address")).to_have_text(live_user.email)
    # Verified already: the mail says so, and holds no key.
    (mail,) = smtp.wait(live_user.email)
    assert "key=" not in link_of(mail)


def test_a_key_in_the_query_string_is_taken_out_of_the_address_and_never_sent(
    spa_server: LiveServer, page: Page
) -> None:
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))

    page.goto(f"{spa_server.url}/?action=verify-email&key=a-key-in-the-query#main")

    expect(page.locator("#resend-error")).to_have_text(
        "This link is incomplete. Enter your address and we mail you a new link."
    )
    assert page.url == f"{spa_server.url}/#main"
    assert not [r.url for r in sent[1:] if "a-key-in-the-query" in (r.post_data or r.url)]


def test_the_signup_and_forgotten_password_links_of_the_mails_open_their_forms(
    spa_server: LiveServer, page: Page
) -> None:
    page.goto(f"{spa_server.url}/?action=signup")
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    expect(page.locator("#signup-form").get_by_label("Username")).to_be_focused()
    assert page.url == f"{spa_server.url}/"

    page.goto(f"{spa_server.url}/#action=forgot-password")
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    expect(page.get_by_role("textbox", name="Email address")).to_be_focused()


@pytest.mark.parametrize("mode", SPA_MODES)
def test_a_password_reset_by_the_mailed_link_ends_every_earlier_login(
    spa_server: LiveServer,
    proxied: Proxy,
    live_user: User,
    smtp: SmtpServer,
    page: Page,
    other_page: Page,
    mode: str,
) -> None:
    profile_path = PROFILE_PATHS[mode]
    other_page.goto(spa_server.url)
    sign_in(other_page, mode=mode, username="alice", password=PASSWORD)
    settled(other_page)
    phone = other_device_login(spa_server, mode="jwt-header", username="alice")
    assert phone.profile_status() == 200

    page.goto(proxied.url)
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_role("textbox", name="Email address").fill(live_user.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    expect(page.locator("#mail-address")).to_have_text(live_user.email)
    (mail,) = smtp.wait(live_user.email)

    page.goto(link_of(mail))
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    assert page.url == f"{proxied.url}/"
    assert key_of(mail) not in stored(page)
    form = page.locator("#reset-form")
    new_password = form.get_by_label("New password")
    new_password.fill("password")
    form.get_by_role("button", name="Set password").click()
    expect(page.locator("#reset-new_password-error")).to_contain_text("too common")
    expect(new_password).to_have_attribute("aria-invalid", "true")
    assert phone.profile_status() == 200
    new_password.fill(NEW_PASSWORD)
    form.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("status")).to_contain_text("Your new password is set")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    assert phone.profile_status() == 401
    with other_page.expect_response(lambda r: r.url.endswith(profile_path)) as answer:
        other_page.get_by_role("button", name="Reload").click()
    assert answer.value.status == 401
    expect(other_page.locator("#login-error")).to_have_text(
        "Your sign-in has ended. Please sign in again."
    )

    # The key died with the password it was made for: the link now asks for a new one.
    page.goto(link_of(mail))
    form.get_by_label("New password").fill("yet another passphrase")
    form.get_by_role("button", name="Set password").click()
    expect(page.locator("#forgot-error")).to_contain_text("This link is not valid")
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.get_by_role("link", name="Back to sign in").click()
    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    expect(page.locator("#login-error")).to_have_text("Invalid username or password.")
    sign_in(page, mode=mode, username="alice", password=NEW_PASSWORD)
    settled(page)
    assert_keys_unlogged(
        proxied, key_of(mail), requests=["POST /api/account/password/reset/confirm/ 204"]
    )


@pytest.mark.parametrize("mode", SPA_MODES)
def test_an_email_change_asks_for_the_password_again_and_the_new_addresss_link_completes_it(
    proxied: Proxy,
    live_user: User,
    smtp: SmtpServer,
    page: Page,
    csp_watch: CspWatch,
    mode: str,
) -> None:
    old_email, new_email = live_user.email, "alice.liddell@example.org"
    page.goto(proxied.url)
    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    settled(page)
    expect(page.locator("#account-email")).to_have_text(old_email)
    login_made_stale(live_user)

    page.get_by_role("textbox", name="New email address").fill(new_email)
    page.get_by_role("button", name="Change email").click()
    prompt = page.get_by_role("dialog", name="Confirm it's you")
    password = prompt.get_by_label("Your password")
    expect(password).to_be_focused()
    password.fill("not my password")
    prompt.get_by_role("button", name="Confirm").click()
    expect(prompt.locator("#reauth-password-error")).to_have_text(
        "The current password is not correct."
    )
    expect(password).to_have_attribute("aria-invalid", "true")
    screenshot(page, f"spa-{mode}-reauthenticate")
    password.fill(PASSWORD)
    prompt.get_by_role("button", name="Confirm").click()

    expect(prompt).to_be_hidden()
    expect(page.get_by_role("status")).to_have_text(
        f"Check your new address: follow the link we sent to {new_email} to make it your account's."
    )
    assert calls(page)[:4] == [
        f"POST /api/account/email/ 202 {mode}",
        f"POST /api/account/reauthenticate/ 200 {mode}",
        f"POST /api/account/reauthenticate/ 400 {mode}",
        f"POST /api/account/email/ 403 {mode}",
    ]
    page.get_by_role("button", name="Reload").click()
    expect(page.locator("#account-email")).to_have_text(old_email)

    (mail,) = smtp.wait(new_email)
    page.goto(link_of(mail))
    # An address change needs no password: the field is left empty.
    expect(page.get_by_role("heading", name="Verify your address")).to_be_visible()
    page.get_by_role("button", name="Verify address").click()
    expect(page.get_by_role("status")).to_have_text(f"Your account's address is now {new_email}.")
    assert page.url == f"{proxied.url}/"
    expect(page.locator("#account-email")).to_have_text(new_email)
    expect(page.locator("#account-verified")).to_have_text("Yes")
    screenshot(page, f"spa-{mode}-account", full_page=True)
    (told,) = smtp.wait(old_email)
    assert new_email in text_of(told)
    assert_keys_unlogged(
        proxied,
        key_of(mail),
        key_of(told),
        requests=["POST /api/account/email/ 202", "POST /api/account/email/verify/ 200"],
    )
    assert csp_watch.violations() == []


def attacker_app_enable(url: str, *, username: str) -> httpx.Client:
    """Someone who knows the password logs in by token at `url` and turns on an authenticator
    app of their own; their client, logged in.
    """
    client = httpx.Client(base_url=url, headers={"User-Agent": SECOND_DEVICE})
    login = client.post("/api/jwt/token/", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    client.headers["Authorization"] = f"Bearer {login.json()['access']}"
    secret = client.get(f"{MFA}totp/").json()["secret"]
    enabled = client.post(f"{MFA}totp/", json={"code": pyotp.TOTP(secret).now()})
    assert enabled.status_code == 201, enabled.text
    return client


@pytest.mark.parametrize("mode", SPA_MODES)
def test_this_wasnt_me_on_a_sign_in_change_mail_removes_the_new_app_and_ends_every_login(
    proxied: Proxy,
    live_user: User,
    smtp: SmtpServer,
    context: BrowserContext,
    page: Page,
    csp_watch: CspWatch,
    mode: str,
) -> None:
    page.goto(proxied.url)
    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    settled(page)
    attacker = attacker_app_enable(proxied.url, username="alice")
    (notice,) = [m for m in smtp.wait(live_user.email) if "authenticator app" in text_of(m)]

    # The link opens in the tab that is signed in: only the fragment changes.
    page.goto(link_of(notice))
    undo = page.get_by_role("heading", name="This wasn't me")
    expect(undo).to_be_focused()
    assert page.url == f"{proxied.url}/"
    expect(page.locator("#undo-view")).to_contain_text("signs out every browser and device")
    screenshot(page, f"spa-{mode}-undo")
    # Nothing happens before it is confirmed.
    page.get_by_role("link", name="It was me: keep the change").click()
    expect(page.get_by_role("status")).to_have_text("Nothing was undone.")
    settled(page)
    assert attacker.get("/api/jwt/profile/").status_code == 200
    page.goto(link_of(notice))
    expect(undo).to_be_focused()
    page.get_by_role("button", name="Undo it and sign out everywhere").click()

    expect(page.get_by_role("heading", name="Change undone")).to_be_focused()
    expect(page.locator("#undone-what")).to_have_text("Undone: an authenticator app was set up.")
    assert calls(page)[0].startswith("POST /api/account/undo/ 200")
    assert attacker.get("/api/jwt/profile/").status_code == 401
    assert page.request.get(f"{proxied.url}{PROFILE_PATHS[mode]}").status == 401
    attacker.close()

    # The password is replaced; the reset mail sets a new one, and the app asks for no code.
    reset = next(
        m for m in reversed(smtp.wait(live_user.email, count=2)) if "reset-password" in link_of(m)
    )
    page.goto(link_of(reset))
    form = page.locator("#reset-form")
    form.get_by_label("New password").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, mode=mode, username="alice", password=NEW_PASSWORD)
    signed_in_by(context, page, mode, "alice")
    expect(page.locator("#totp-state")).to_contain_text("Off")
    assert_keys_unlogged(
        proxied,
        key_of(notice),
        key_of(reset),
        requests=["POST /api/account/undo/ 200", "POST /api/account/password/reset/confirm/ 204"],
    )
    assert csp_watch.violations() == []


@pytest.mark.parametrize("mode", SPA_MODES)
def test_deleting_the_account_is_confirmed_asks_for_the_password_again_and_signs_out(
    spa_server: LiveServer,
    live_user: User,
    context: BrowserContext,
    page: Page,
    csp_watch: CspWatch,
    mode: str,
) -> None:
    page.goto(spa_server.url)
    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    settled(page)
    login_made_stale(live_user)
    confirm = page.get_by_role("dialog", name="Delete your account?")
    prompt = page.get_by_role("dialog", name="Confirm it's you")

    page.get_by_role("button", name="Delete account").click()
    expect(confirm.get_by_role("button", name="Keep my account")).to_be_focused()
    screenshot(page, f"spa-{mode}-delete")
    confirm.get_by_role("button", name="Keep my account").click()
    expect(confirm).to_be_hidden()
    page.get_by_role("button", name="Delete account").click()
    confirm.get_by_role("button", name="Delete my account").click()
    prompt.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("status")).to_have_text("Your account was not deleted.")
    assert User.objects.filter(pk=live_user.pk).exists()

    page.get_by_role("button", name="Delete account").click()
    confirm.get_by_role("button", name="Delete my account").click()
    prompt.get_by_label("Your password").fill(PASSWORD)
    prompt.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        "Your account is deleted, and every browser and device was signed out."
    )
    assert [call for call in calls(page) if "DELETE" in call] == [
        f"DELETE /api/account/ 204 {mode}",
        f"DELETE /api/account/ 403 {mode}",
        f"DELETE /api/account/ 403 {mode}",
    ]
    assert not User.objects.filter(pk=live_user.pk).exists()
    assert held_cookies(context) == {}
    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    expect(page.locator("#login-error")).to_have_text("Invalid username or password.")
    assert csp_watch.violations() == []


# Second factors: an authenticator app, recovery codes and passkeys, in the browser. Passkeys
# need the SPA at http://localhost: WebAuthn refuses an IP address as a relying party's id.


@pytest.fixture(scope="module")
def mfa_server(
    live_server_factory: Callable[..., LiveServer], smtp_server: SmtpServer
) -> LiveServer:
    """A server that keeps second factors: a key encrypts the TOTP secrets; mail goes to SMTP."""
    require_shared_cache()
    call_command("collectstatic", "--noinput", verbosity=0)
    key = Fernet.generate_key().decode()
    return live_server_factory(MFA_ENCRYPTION_KEY=key, **smtp_server.env)


@pytest.fixture
def site(mfa_server: LiveServer) -> str:
    """The server's SPA by a host name, where WebAuthn works."""
    return mfa_server.url.replace("127.0.0.1", "localhost")


def app_enable_over_http(server: LiveServer, *, username: str) -> App:
    """Enable TOTP for `username` as another client would: a token login, then the code."""
    with httpx.Client(base_url=server.url) as client:
        login = client.post("/api/jwt/token/", json={"username": username, "password": PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access']}"
        setup = client.get(f"{MFA}totp/")
        assert setup.status_code == 200, setup.text
        secret = setup.json()["secret"]
        enabled_at = time.time()
        code = pyotp.TOTP(secret).at(enabled_at)
        enabled = client.post(f"{MFA}totp/", json={"code": code})
        assert enabled.status_code == 201, enabled.text
        return App(secret, enabled.json()["recovery_codes"], enabled_at)


def second_step_over_http(server: LiveServer, *, username: str, code: str) -> int:
    """The status of a token login of `username` completed with `code`."""
    with httpx.Client(base_url=server.url) as client:
        login = client.post("/api/jwt/token/", json={"username": username, "password": PASSWORD})
        assert login.status_code == 202, login.text
        token = login.json()["mfa_token"]
        return client.post(MFA_AUTHENTICATE, json={"mfa_token": token, "code": code}).status_code


def reauthenticate(page: Page) -> None:
    """Answer the prompt for the password."""
    prompt = page.get_by_role("dialog", name="Confirm it's you")
    expect(prompt.get_by_label("Your password")).to_be_focused()
    prompt.get_by_label("Your password").fill(PASSWORD)
    prompt.get_by_label("Your password").press("Enter")
    expect(prompt).to_be_hidden()


def test_a_user_turns_on_an_app_sees_the_recovery_codes_once_and_each_code_works_once(
    mfa_server: LiveServer,
    live_user: User,
    context: BrowserContext,
    page: Page,
    csp_watch: CspWatch,
) -> None:
    page.goto(mfa_server.url)
    sign_in(page, mode="session", username="alice", password=PASSWORD)
    settled(page)
    card = page.locator(".card-mfa")
    expect(card.locator("#totp-state")).to_contain_text("Off")
    expect(card.locator("#codes-section")).to_be_hidden()
    login_made_stale(live_user)

    card.get_by_role("button", name="Set up an authenticator app").click()
    expect(card.get_by_role("heading", name="Scan this QR code")).to_be_focused()
    qr = card.get_by_role("img", name="QR code of the key for your authenticator app")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;"))
    page.wait_for_function("document.getElementById('totp-qr').naturalWidth > 0")
    secret = card.locator("#totp-secret").inner_text().replace(" ", "")
    app = App(secret, [], time.time())
    screenshot(page, "spa-totp-setup", full_page=True)
    field = card.get_by_label("Code the app shows now")
    expect(field).to_have_attribute("autocomplete", "one-time-code")
    expect(field).to_have_attribute("inputmode", "numeric")
    # A stale login is asked for the password, then the code is sent again: a wrong one.
    field.fill(app.wrong_code())
    field.press("Enter")
    reauthenticate(page)
    expect(card.locator("#totp-code-error")).not_to_be_empty()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    field.fill(app.code(0))
    field.press("Enter")

    panel = page.get_by_role("group", name="Save your recovery codes")
    expect(panel.get_by_role("heading", name="Save your recovery codes")).to_be_focused()
    codes = panel.get_by_role("listitem").all_inner_texts()
    assert len(codes) == dualauth_settings.RECOVERY_CODE_COUNT
    assert len(set(codes)) == len(codes)
    expect(card.locator("#totp-state")).to_contain_text("On")
    expect(card.locator("#totp-panel")).to_be_hidden()
    expect(card.locator("#codes-left")).to_have_text(f"{len(codes)} unused recovery codes left.")
    screenshot(page, "spa-recovery-codes", full_page=True)
    panel.get_by_role("button", name="I have saved them").click()
    expect(panel).to_be_hidden()
    expect(card.get_by_role("button", name="Make new recovery codes")).to_be_focused()
    assert not [code for code in codes if code in page.content()]
    # Shown once: the server never gives them again, nor the secret.
    page.reload()
    settled(page)
    assert not [code for code in [*codes, secret] if code in page.content()]

    sign_out(page)
    sign_in(page, mode="session", username="alice", password=PASSWORD)
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    assert held_cookies(context) == {}
    expect(page.get_by_label("Code from your authenticator app")).to_be_focused()
    page.get_by_role("button", name="Use a recovery code instead").click()
    recovery = page.get_by_role("textbox", name="Recovery code")
    expect(recovery).to_be_focused()
    expect(recovery).to_have_attribute("inputmode", "text")
    recovery.fill(codes[0])
    recovery.press("Enter")
    signed_in_by(context, page, "session", "alice")
    left = len(codes) - 1
    expect(page.locator("#codes-left")).to_have_text(f"{left} unused recovery codes left.")

    sign_out(page)
    sign_in(page, mode="session", username="alice", password=PASSWORD)
    page.get_by_role("button", name="Use a recovery code instead").click()
    page.get_by_role("textbox", name="Recovery code").fill(codes[0])
    page.get_by_role("textbox", name="Recovery code").press("Enter")
    expect(page.get_by_role("alert").filter(has_text=re.compile(r"\S"))).to_have_count(1)
    expect(page.get_by_role("textbox", name="Recovery code")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert calls(page)[0] == f"POST {MFA_AUTHENTICATE} 400 no credential"
    assert held_cookies(context) == {}
    page.get_by_role("button", name="Use the authenticator app instead").click()
    page.get_by_label("Code from your authenticator app").fill(app.code(1))
    page.get_by_label("Code from your authenticator app").press("Enter")
    signed_in_by(context, page, "session", "alice")
    expect(page.locator("#codes-left")).to_have_text(f"{left} unused recovery codes left.")
    assert csp_watch.violations() == []


@pytest.mark.parametrize("mode", SPA_MODES)
def test_a_password_alone_signs_no_one_in_and_the_code_step_gives_the_modes_login(
    mfa_server: LiveServer, live_user: User, context: BrowserContext, page: Page, mode: str
) -> None:
    app = app_enable_over_http(mfa_server, username="alice")
    page.goto(mfa_server.url)
    with page.expect_response(re.compile(f"{LOGIN_PATHS[mode]}$")) as login:
        sign_in(page, mode=mode, username="alice", password=PASSWORD)
    mfa_token = login.value.json()["mfa_token"]

    heading = page.get_by_role("heading", name="Two-step verification")
    expect(heading).to_be_visible()
    field = page.get_by_label("Code from your authenticator app")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("autocomplete", "one-time-code")
    expect(field).to_have_attribute("inputmode", "numeric")
    assert calls(page)[0] == f"POST {LOGIN_PATHS[mode]} 202 no credential"
    assert held_cookies(context) == {}
    screenshot(page, f"spa-{mode}-second-step")

    page.keyboard.type(app.wrong_code())
    page.keyboard.press("Enter")
    expect(page.locator("#mfa-error")).not_to_be_empty()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    assert held_cookies(context) == {}
    # The half-done login lives in the page's memory only: a reload forgets it.
    assert mfa_token not in stored(page)
    assert mfa_token not in page.content()

    page.keyboard.type(app.code())
    page.keyboard.press("Enter")
    signed_in_by(context, page, mode, "alice")
    expect(page.get_by_role("status")).to_have_text(f"Signed in with {auth_label(mode)}.")
    expect(page.locator("#main")).to_be_focused()
    assert f"POST {MFA_AUTHENTICATE} 200 no credential" in calls(page)
    page.reload()
    signed_in_by(context, page, mode, "alice")


def test_the_second_step_cancelled_goes_back_to_the_sign_in_form_with_nothing_held(
    mfa_server: LiveServer, live_user: User, context: BrowserContext, page: Page
) -> None:
    app_enable_over_http(mfa_server, username="alice")
    page.goto(mfa_server.url)
    sign_in(page, mode="session", username="alice", password=PASSWORD)
    expect(page.get_by_label("Code from your authenticator app")).to_be_focused()

    page.get_by_role("link", name="Cancel and go back to sign in").click()

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert held_cookies(context) == {}


def test_new_recovery_codes_kill_the_old_and_turning_the_app_off_ends_the_second_step(
    mfa_server: LiveServer, live_user: User, context: BrowserContext, page: Page
) -> None:
    app = app_enable_over_http(mfa_server, username="alice")
    page.goto(mfa_server.url)
    sign_in(page, mode="session", username="alice", password=PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(app.code())
    page.get_by_label("Code from your authenticator app").press("Enter")
    settled(page)
    card = page.locator(".card-mfa")
    expect(card.locator("#totp-state")).to_contain_text("On")
    expect(card.get_by_role("button", name="Set up an authenticator app")).to_be_hidden()
    login_made_stale(live_user)

    card.get_by_role("button", name="Make new recovery codes").click()
    reauthenticate(page)
    panel = page.get_by_role("group", name="Save your recovery codes")
    expect(panel.get_by_role("heading")).to_be_focused()
    codes = panel.get_by_role("listitem").all_inner_texts()
    assert len(codes) == dualauth_settings.RECOVERY_CODE_COUNT
    assert not set(codes) & set(app.recovery_codes)
    panel.get_by_role("button", name="I have saved them").click()
    assert second_step_over_http(mfa_server, username="alice", code=app.recovery_codes[0]) == 400
    assert second_step_over_http(mfa_server, username="alice", code=codes[0]) == 200

    login_made_stale(live_user)
    card.get_by_role("button", name="Turn off the authenticator app").click()
    reauthenticate(page)
    expect(page.get_by_role("status")).to_contain_text("Your authenticator app is off")
    expect(card.locator("#totp-state")).to_contain_text("Off")
    expect(card.get_by_role("button", name="Set up an authenticator app")).to_be_focused()
    expect(card.locator("#codes-section")).to_be_hidden()

    sign_out(page)
    sign_in(page, mode="session", username="alice", password=PASSWORD)
    signed_in_by(context, page, "session", "alice")
    logins = [call for call in calls(page) if call.startswith(f"POST {LOGIN_PATHS['session']}")]
    assert logins[0] == f"POST {LOGIN_PATHS['session']} 200 no credential"


@pytest.mark.parametrize("mode", SPA_MODES)
def test_a_passkey_is_added_renamed_and_signs_in_without_a_password(
    mfa_server: LiveServer,
    site: str,
    live_user: User,
    context: BrowserContext,
    page: Page,
    virtual_authenticator: VirtualAuthenticator,
    csp_watch: CspWatch,
    mode: str,
) -> None:
    page.goto(site)
    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    settled(page)
    expect(page.locator("#passkeys-empty")).to_be_visible()
    login_made_stale(live_user)

    field = page.get_by_label("Name of a new passkey")
    field.fill("Laptop")
    field.press("Enter")
    reauthenticate(page)
    expect(page.get_by_role("status")).to_have_text("Passkey “Laptop” added.")
    expect(passkey_items(page)).to_have_count(1)
    expect(passkey_items(page)).to_contain_text("never used")
    (credential,) = virtual_authenticator.credentials()
    assert credential["isResidentCredential"]
    expect(page.locator(".card-mfa #codes-section")).to_be_visible()

    page.get_by_role("button", name="Rename passkey Laptop").click()
    dialog = page.get_by_role("dialog", name="Rename passkey “Laptop”")
    expect(dialog.get_by_label("New name")).to_be_focused()
    dialog.get_by_label("New name").fill("Work laptop")
    dialog.get_by_label("New name").press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#passkeys .device-name")).to_have_text(["Work laptop"])
    expect(page.get_by_role("button", name="Rename passkey Work laptop")).to_be_focused()
    screenshot(page, f"spa-{mode}-passkeys", full_page=True)

    sign_out(page)
    page.locator("#login-form").get_by_label(MODE_LABELS[mode]).check()
    # By the keyboard: the passkey button follows the password's.
    page.get_by_role("button", name="Sign in", exact=True).focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_focused()
    page.keyboard.press("Enter")

    signed_in_by(context, page, mode, "alice")
    expect(page.get_by_role("status")).to_have_text(
        f"Signed in by passkey with {auth_label(mode)}."
    )
    signed_out_at = next(i for i, call in enumerate(calls(page)) if "/logout/ 204" in call)
    since = calls(page)[:signed_out_at]
    assert f"POST {PASSKEY_LOGIN_PATHS[mode]} 200 no credential" in since
    assert f"POST {LOGIN_PATHS[mode]} 200 no credential" not in since
    expect(passkey_items(page)).to_contain_text("last used")
    assert csp_watch.violations() == []


@pytest.mark.parametrize("mode", SPA_MODES)
def test_a_passkey_is_the_second_step_after_a_password_and_once_removed_signs_in_no_more(
    mfa_server: LiveServer,
    site: str,
    live_user: User,
    context: BrowserContext,
    page: Page,
    virtual_authenticator: VirtualAuthenticator,
    mode: str,
) -> None:
    page.goto(site)
    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    settled(page)
    passkey_add(page, "Phone")
    sign_out(page)

    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    assert held_cookies(context) == {}
    # A passkey is the only factor: no code field, and the focus on the passkey's button.
    expect(page.locator("#mfa-form")).to_be_hidden()
    expect(page.get_by_role("button", name="Use a passkey")).to_be_focused()
    page.keyboard.press("Enter")
    signed_in_by(context, page, mode, "alice")
    assert f"POST {MFA_AUTHENTICATE} 200 no credential" in calls(page)
    expect(passkey_items(page)).to_contain_text("last used")

    login_made_stale(live_user)
    page.get_by_role("button", name="Remove passkey Phone").click()
    reauthenticate(page)
    expect(page.get_by_role("status")).to_contain_text("Passkey “Phone” removed")
    expect(passkey_items(page)).to_have_count(0)
    expect(page.get_by_label("Name of a new passkey")).to_be_focused()
    assert len(virtual_authenticator.credentials()) == 1

    # The browser still holds it, but the server refuses it.
    sign_out(page)
    page.locator("#login-form").get_by_label(MODE_LABELS[mode]).check()
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#login-error")).not_to_be_empty()
    assert calls(page)[0] == f"POST {PASSKEY_LOGIN_PATHS[mode]} 400 no credential"
    assert held_cookies(context) == {}
    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    signed_in_by(context, page, mode, "alice")


@pytest.fixture(scope="module")
def provider_spa(
    live_server_factory: Callable[..., LiveServer],
) -> Iterator[tuple[OidcProvider, LiveServer]]:
    """A real provider, and the SPA's server offering it for sign-in by redirect; the server
    has a project's own views behind step-up (RFC 9470) besides.
    """
    call_command("collectstatic", "--noinput", verbosity=0)
    with OidcServer() as provider:
        server = live_server_factory(
            workers=1,
            DJANGO_SETTINGS_MODULE="tests.settings_step_up",
            DEBUG="true",
            PROVIDERS="test",
            PROVIDER_TEST_ISSUER=provider.issuer,
            PROVIDER_TEST_CLIENT_ID=CLIENT_ID,
            PROVIDER_TEST_CLIENT_SECRET=CLIENT_SECRET,
        )
        yield provider, server


@pytest.mark.parametrize("spa_mode", ["session", "jwt-cookie"])
def test_the_spa_signs_in_with_a_provider_and_shows_it_linked(
    provider_spa, page: Page, transactional_db, spa_mode
):
    provider, server = provider_spa
    provider.deny = False
    provider.user = {"sub": f"spa-{spa_mode}", "email": f"spa-{spa_mode}@example.com"}
    page.goto(f"{server.url}/")
    page.locator(f'input[name=mode][value="{spa_mode}"]').check()
    page.get_by_role("button", name="Sign in with Test").click()
    expect(page.locator("#app-view")).to_be_visible()
    assert page.url == f"{server.url}/"
    expect(page.locator("#linked")).to_contain_text(f"spa-{spa_mode}@example.com")
    assert_tokens_unreadable(page)
    # The account has no password and no passkey: its one provider is not unlinked.
    page.locator("#linked").get_by_role("button", name="Unlink").click()
    expect(page.locator("#linked-error")).to_have_text(
        "This is your last way to sign in: add a password or a passkey first."
    )
    expect(page.locator("#linked")).to_contain_text(f"spa-{spa_mode}@example.com")
    assert (
        calls(page)[0]
        == f"DELETE /api/account/providers/linked/{identity_id(spa_mode)}/ 400 {spa_mode}"
    )


def test_the_spa_tells_a_provider_sign_in_that_failed_by_its_code(
    provider_spa, page: Page, transactional_db
):
    provider, server = provider_spa
    provider.deny = True
    page.goto(f"{server.url}/")
    page.get_by_role("button", name="Sign in with Test").click()
    expect(page.locator("#login-error")).to_have_text("The provider did not sign you in.")
    assert "provider-error" not in page.url
    provider.deny = False


def identity_id(subject_suffix: str) -> int:
    """The id of the identity the test provider signed in as `spa-<suffix>`."""
    return int(ProviderIdentity.objects.get(subject=f"spa-{subject_suffix}").pk)


@pytest.mark.parametrize("mode", SPA_MODES)
def test_a_step_up_challenge_asks_for_the_password_and_the_call_is_retried(
    provider_spa, page: Page, live_user: User, mode: str
):
    _, server = provider_spa
    page.goto(f"{server.url}/")
    sign_in(page, mode=mode, username="alice", password=PASSWORD)
    settled(page)
    login_made_stale(live_user)
    # A project's own page calls its own view behind StepUp through the SPA's API layer.
    page.evaluate(
        """() => { window.stepUpCall = import("/static/spa/auth.js")
            .then((auth) => auth.call("POST", "/api/step-up/recent/")); }"""
    )
    reauthenticate(page)
    assert page.evaluate("() => window.stepUpCall") == {}
    assert calls(page)[:3] == [
        f"POST /api/step-up/recent/ 200 {mode}",
        f"POST /api/account/reauthenticate/ 200 {mode}",
        f"POST /api/step-up/recent/ 401 {mode}",
    ]


def test_a_provider_is_linked_after_the_password_is_confirmed_and_unlinked(
    provider_spa, page: Page, live_user: User
):
    provider, server = provider_spa
    provider.deny = False
    provider.user = {"sub": "spa-linked", "email": "alice.elsewhere@example.com"}
    page.goto(f"{server.url}/")
    sign_in(page, mode="jwt-cookie", username="alice", password=PASSWORD)
    settled(page)
    expect(page.locator("#linked-empty")).to_be_visible()
    login_made_stale(live_user)
    page.get_by_role("button", name="Link Test").click()
    # The server refused a stale login: the page asks for the password, then links again.
    reauthenticate(page)
    expect(page.locator("#linked")).to_contain_text("alice.elsewhere@example.com")
    assert page.url == f"{server.url}/"
    assert ProviderIdentity.objects.get(subject="spa-linked").user_id == live_user.pk
    # Alice has a password: the provider is not her last way in, and is unlinked.
    page.locator("#linked").get_by_role("button", name="Unlink").click()
    expect(page.get_by_role("status")).to_have_text(
        "Test unlinked: it no longer signs in to your account."
    )
    expect(page.locator("#linked-empty")).to_be_visible()
    assert not ProviderIdentity.objects.filter(user=live_user).exists()
