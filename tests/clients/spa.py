"""The browser SPA as its tests drive it: Debian's Chromium, and what a person does on the page.

The fixtures that launch the browser and open its pages are in tests/conftest.py, for every
directory whose tests drive the SPA (tests/clients against gunicorn, tests/readme against
`make run`).
"""

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
from playwright.sync_api import (
    BrowserContext,
    CDPSession,
    Locator,
    Page,
    ViewportSize,
    expect,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
# How long a test waits for the page to come to show what it expects (every `expect` of the
# suite's): Playwright's default, in one place. The browsers share no core with a test that
# saturates them (tests/conftest.py, CORES_BOUND), so no wait is raised for load.
EXPECT_TIMEOUT_MS = 5_000
SPA_MODES = ("session", "jwt-cookie")
MODE_LABELS = {"session": "Session cookie", "jwt-cookie": "JWT cookies"}
SECRET_COOKIES = ("sessionid", "access_token", "refresh_token")
MODE_COOKIES = {"session": {"sessionid"}, "jwt-cookie": {"access_token", "refresh_token"}}
LOGIN_PATHS = {"session": "/api/session/login/", "jwt-cookie": "/api/jwt/cookie/login/"}
PASSKEY_LOGIN_PATHS = {
    "session": "/api/session/login/passkey/",
    "jwt-cookie": "/api/jwt/cookie/login/passkey/",
}
PROFILE_PATHS = {"session": "/api/session/profile/", "jwt-cookie": "/api/profile/"}
MFA = "/api/account/mfa/"
MFA_AUTHENTICATE = f"{MFA}authenticate/"
# Runs before the page's own scripts: every CSP violation of the page, kept for the test.
VIOLATIONS_RECORD = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.effectiveDirective} ${event.blockedURI}`);
});
"""
# A TOTP time step, in seconds.
STEP = 30
# Chromium's virtual authenticator: a platform authenticator that holds discoverable
# credentials and verifies its user, as a phone's or laptop's does.
VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


@dataclass
class CspWatch:
    """The CSP violations a page reported, as events and as console messages."""

    page: Page
    console: list[str]

    def violations(self) -> list[str]:
        """Every violation reported so far."""
        return [*self.page.evaluate("window.__cspViolations"), *self.console]


@dataclass
class VirtualAuthenticator:
    """Chromium's virtual authenticator, reached by the DevTools protocol."""

    cdp: CDPSession
    id: str

    def credentials(self) -> list[dict[str, Any]]:
        """The credentials it holds."""
        answer = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        credentials: list[dict[str, Any]] = answer["credentials"]
        return credentials


@dataclass
class App:
    """An authenticator app with the secret of a user's TOTP, and what enabling it gave."""

    secret: str
    recovery_codes: list[str]
    enabled_at: float

    def code(self, steps: int = 1) -> str:
        """The code `steps` steps after the one that enabled it: each step's works once."""
        return str(pyotp.TOTP(self.secret).at(self.enabled_at + steps * STEP))

    def wrong_code(self) -> str:
        """A code of none of the steps the server accepts now."""
        now = time.time()
        taken = {pyotp.TOTP(self.secret).at(now + drift * STEP) for drift in (-1, 0, 1)}
        return next(code for code in ("000000", "111111", "222222", "333333") if code not in taken)


def assert_tokens_unreadable(page: Page) -> None:
    """Page script sees no credential cookie, whatever the browser holds."""
    readable = page.evaluate("document.cookie")
    for name in SECRET_COOKIES:
        assert f"{name}=" not in readable, f"{name} is readable by page script"


def held_cookies(context: BrowserContext) -> dict[str, bool]:
    """The credential cookies the browser holds, each with its HttpOnly flag."""
    return {
        cookie["name"]: cookie["httpOnly"]
        for cookie in context.cookies()
        if cookie["name"] in SECRET_COOKIES
    }


def calls(page: Page) -> list[str]:
    """The page's activity log, newest first: "METHOD path status mode" per call."""
    entries: list[str] = page.locator(".log-entry").evaluate_all(
        "entries => entries.map("
        "entry => [...entry.children].slice(1).map(part => part.textContent).join(' '))"
    )
    return entries


def settled(page: Page) -> None:
    """Wait until a signed-in page shows the profile and has loaded its logins and account."""
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
    expect(page.locator(".device.current")).to_have_count(1)
    expect(page.locator("#account-verified")).to_have_text(re.compile(r"\S"))


def sign_in(page: Page, *, mode: str, username: str, password: str) -> None:
    """Fill and submit the sign-in form."""
    form = page.locator("#login-form")
    form.get_by_label(MODE_LABELS[mode]).check()
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(page: Page) -> None:
    """Sign out, and wait for the sign-in form."""
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def sign_up(page: Page, *, username: str, email: str, password: str) -> None:
    """From the sign-in form, create an account; wait until the page asks to check the mail."""
    page.get_by_role("link", name="Create an account").click()
    form = page.locator("#signup-form")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Email address").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_focused()
    expect(page.locator("#mail-address")).to_have_text(email)


def verify_by_password(page: Page, password: str) -> None:
    """Answer the verification page's question: the password of the account signing up."""
    expect(page.get_by_role("heading", name="Verify your address")).to_be_visible()
    form = page.locator("#verify-form")
    field = form.get_by_label("Password")
    expect(field).to_be_focused()
    field.fill(password)
    form.get_by_role("button", name="Verify address").click()


def signed_in_by(context: BrowserContext, page: Page, mode: str, username: str) -> None:
    """The page shows `username`'s app, and the browser holds the mode's credential and no
    other.
    """
    settled(page)
    expect(page.locator("#profile-username")).to_have_text(username)
    assert held_cookies(context) == dict.fromkeys(MODE_COOKIES[mode], True)
    assert_tokens_unreadable(page)


def auth_label(mode: str) -> str:
    """How the page names a mode in its messages."""
    return {"session": "session cookie", "jwt-cookie": "JWT cookies"}[mode]


def passkey_add(page: Page, name: str) -> None:
    """Add a passkey by the keyboard, with the page's login fresh."""
    field = page.get_by_label("Name of a new passkey")
    field.fill(name)
    field.press("Enter")
    expect(page.get_by_role("status")).to_have_text(f"Passkey “{name}” added.")


def passkey_items(page: Page) -> Locator:
    """The passkeys the account card lists."""
    return page.locator("#passkeys .passkey")
