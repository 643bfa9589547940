"""The SPA in Chromium against `make run`'s own server, in each browser mode: sign-up by the
link of the mail make run printed, sign-in, the profile, an authenticator app, a passkey,
signing out everywhere, and "Sign in with Dev" once the README's provider walk-through has
started the development provider and `make run` with it.

make run's server keeps its state in a SQLite file and an in-process cache of its own: the
tests reach it through the browser and HTTP only, each with an account it signed up itself.
"""

import time

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.clients.spa import (
    LOGIN_PATHS,
    MFA,
    MFA_AUTHENTICATE,
    MODE_COOKIES,
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
    sign_in,
    sign_out,
    sign_up,
    signed_in_by,
    verify_by_password,
)
from tests.readme.conftest import (
    WALK_THROUGHS,
    Account,
    MadeRun,
    Terminal,
    link_key,
    verified_text,
    walk_throughs_follow,
)

# With the walk-throughs, on one xdist worker: one `make run` serves both.
pytestmark = [pytest.mark.browser, pytest.mark.server]

DISPLAY_NAME = "Mary Ann"
BIO = "Housemaid to the White Rabbit; fetches gloves and fans."
PROVIDERS_WALK_THROUGH = next(
    block for block in WALK_THROUGHS if block.section.startswith("Sign in with Google, Apple")
)


@pytest.mark.parametrize("mode", SPA_MODES)
def test_a_visitor_signs_up_verifies_by_the_console_link_signs_in_and_edits_the_profile(
    made_run: MadeRun,
    new_account: Account,
    context: BrowserContext,
    page: Page,
    csp_watch: CspWatch,
    mode: str,
) -> None:
    username, email, password = new_account.username, new_account.email, new_account.password
    page.goto(made_run.url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    mailed = len(made_run.links())
    sign_up(page, username=username, email=email, password=password)
    assert calls(page)[0] == "POST /api/account/signup/ 202 no credential"
    link = made_run.link_after(mailed)
    assert made_run.mails()[-1]["To"] == email

    # Not verified yet: the right password does not sign in.
    page.get_by_role("link", name="Back to sign in").click()
    sign_in(page, mode=mode, username=username, password=password)
    expect(page.locator("#login-error")).to_contain_text("Verify your email address first")
    assert held_cookies(context) == {}

    # As printed: wherever the link carries its key, the page takes it out of the address bar.
    page.goto(link)
    verify_by_password(page, password)
    expect(page.get_by_role("status")).to_have_text(verified_text(email))
    assert "POST /api/account/email/verify/ 200 no credential" in calls(page)
    assert link_key(link) not in page.url

    sign_in(page, mode=mode, username=username, password=password)
    signed_in_by(context, page, mode, username)
    expect(page.locator("#account-email")).to_have_text(email)
    expect(page.locator("#account-verified")).to_have_text("Yes")

    page.get_by_label("Display name").fill(DISPLAY_NAME)
    page.get_by_label("Bio").fill(BIO)
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("Profile saved.")
    expect(page.locator("#whoami")).to_contain_text(DISPLAY_NAME)
    assert calls(page)[0] == f"PATCH {PROFILE_PATHS[mode]} 200 {mode}"
    page.reload()
    expect(page.get_by_label("Display name")).to_have_value(DISPLAY_NAME)
    expect(page.get_by_label("Bio")).to_have_value(BIO)
    assert csp_watch.violations() == []


@pytest.mark.parametrize("mode", SPA_MODES)
def test_an_app_set_up_in_the_account_card_asks_for_its_code_at_the_next_sign_in(
    made_run: MadeRun, account: Account, context: BrowserContext, page: Page, mode: str
) -> None:
    page.goto(made_run.url)
    sign_in(page, mode=mode, username=account.username, password=account.password)
    signed_in_by(context, page, mode, account.username)
    card = page.locator(".card-mfa")
    expect(card.locator("#totp-state")).to_contain_text("Off")

    # A login this fresh is not asked for the password again.
    card.get_by_role("button", name="Set up an authenticator app").click()
    expect(card.get_by_role("heading", name="Scan this QR code")).to_be_focused()
    secret = card.locator("#totp-secret").inner_text().replace(" ", "")
    app = App(secret, [], time.time())
    field = card.get_by_label("Code the app shows now")
    field.fill(app.code(0))
    field.press("Enter")
    panel = page.get_by_role("group", name="Save your recovery codes")
    expect(panel.get_by_role("heading", name="Save your recovery codes")).to_be_focused()
    assert f"POST {MFA}totp/ 201 {mode}" in calls(page)
    codes = panel.get_by_role("listitem").all_inner_texts()
    assert codes
    assert len(set(codes)) == len(codes)
    expect(card.locator("#totp-state")).to_contain_text("On")
    expect(card.locator("#codes-left")).to_have_text(f"{len(codes)} unused recovery codes left.")
    panel.get_by_role("button", name="I have saved them").click()
    expect(panel).to_be_hidden()

    sign_out(page)
    sign_in(page, mode=mode, username=account.username, password=account.password)
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    assert calls(page)[0] == f"POST {LOGIN_PATHS[mode]} 202 no credential"
    assert held_cookies(context) == {}
    code = page.get_by_label("Code from your authenticator app")
    code.fill(app.wrong_code())
    code.press("Enter")
    expect(page.locator("#mfa-error")).not_to_be_empty()
    assert calls(page)[0] == f"POST {MFA_AUTHENTICATE} 400 no credential"
    assert held_cookies(context) == {}
    code.fill(app.code(1))
    code.press("Enter")
    signed_in_by(context, page, mode, account.username)
    expect(page.get_by_role("status")).to_have_text(f"Signed in with {auth_label(mode)}.")
    assert f"POST {MFA_AUTHENTICATE} 200 no credential" in calls(page)


@pytest.mark.parametrize("mode", SPA_MODES)
def test_a_passkey_added_at_localhost_signs_in_without_a_password(
    made_run: MadeRun,
    account: Account,
    context: BrowserContext,
    page: Page,
    virtual_authenticator: VirtualAuthenticator,
    mode: str,
) -> None:
    page.goto(made_run.named_url)
    sign_in(page, mode=mode, username=account.username, password=account.password)
    signed_in_by(context, page, mode, account.username)
    expect(page.locator("#passkeys-empty")).to_be_visible()

    passkey_add(page, "Laptop")
    assert f"POST {MFA}passkeys/ 201 {mode}" in calls(page)
    expect(passkey_items(page)).to_have_count(1)
    expect(passkey_items(page)).to_contain_text("never used")
    (credential,) = virtual_authenticator.credentials()
    assert credential["isResidentCredential"]
    assert credential["rpId"] == "localhost"

    sign_out(page)
    page.locator("#login-form").get_by_label(MODE_LABELS[mode]).check()
    page.get_by_role("button", name="Sign in with a passkey").click()
    signed_in_by(context, page, mode, account.username)
    expect(page.get_by_role("status")).to_have_text(
        f"Signed in by passkey with {auth_label(mode)}."
    )
    signed_out_at = next(i for i, call in enumerate(calls(page)) if "/logout/ 204" in call)
    since = calls(page)[:signed_out_at]
    assert f"POST {PASSKEY_LOGIN_PATHS[mode]} 200 no credential" in since
    assert not [call for call in since if call.startswith(f"POST {LOGIN_PATHS[mode]} ")]
    expect(passkey_items(page)).to_contain_text("last used")


@pytest.mark.parametrize("mode", SPA_MODES)
def test_signing_out_everywhere_ends_the_login_of_another_browser_too(
    made_run: MadeRun,
    account: Account,
    page: Page,
    other_page: Page,
    mode: str,
) -> None:
    for tab in (other_page, page):
        tab.goto(made_run.url)
        sign_in(tab, mode=mode, username=account.username, password=account.password)
        signed_in_by(tab.context, tab, mode, account.username)
    page.get_by_role("button", name="Refresh list").click()
    expect(page.locator("#logins .device")).to_have_count(2)

    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_role("status")).to_have_text("Signed out everywhere.")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert calls(page)[0] == f"POST /api/logout-all/ 204 {mode}"

    with other_page.expect_response(lambda r: r.url.endswith(PROFILE_PATHS[mode])) as answer:
        other_page.get_by_role("button", name="Reload").click()
    assert answer.value.status == 401
    expect(other_page.locator("#login-error")).to_have_text(
        "Your sign-in has ended. Please sign in again."
    )
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


@pytest.mark.parametrize("mode", SPA_MODES)
def test_sign_in_with_dev_signs_in_whoever_the_development_providers_form_is_given(
    made_run: MadeRun,
    terminal: Terminal,
    new_account: Account,
    context: BrowserContext,
    page: Page,
    mode: str,
) -> None:
    # As the README has it: the development provider and `make run` with its variables.
    walk_throughs_follow(PROVIDERS_WALK_THROUGH, made_run, terminal)
    page.goto(made_run.url)
    page.locator("#login-form").get_by_label(MODE_LABELS[mode]).check()
    page.get_by_role("button", name="Sign in with Dev").click()
    page.get_by_label("Email address").fill(new_account.email)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#app-view")).to_be_visible()
    assert page.url == f"{made_run.url}/"
    expect(page.locator("#account-email")).to_have_text(new_account.email)
    expect(page.locator("#linked")).to_contain_text(new_account.email)
    assert held_cookies(context) == dict.fromkeys(MODE_COOKIES[mode], True)
    assert_tokens_unreadable(page)
