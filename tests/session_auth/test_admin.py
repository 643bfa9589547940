"""The Django admin inside the login model: throttled, audited, listed, revoked, timed out."""

import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pyotp
import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from common.conf import dualauth_settings
from common.mfa.services import totp_enable, totp_setup_get
from common.models import LoginFamily
from common.throttling import device_token_issue
from tests.live import ROOT
from tests.modes import MODES, ModeClient

pytestmark = pytest.mark.usefixtures("admin_served")

ADMIN = "/admin/"
ADMIN_LOGIN = "/admin/login/"
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def _admin_login(client: Client, username: str, password: str):
    return client.post(ADMIN_LOGIN, {"username": username, "password": password, "next": ADMIN})


def _admin_opens(client: Client) -> bool:
    """Whether the admin index opens for this client, rather than sending it to log in."""
    response = client.get(ADMIN)
    if response.status_code == 302:
        assert response["Location"].startswith(ADMIN_LOGIN)
        return False
    assert response.status_code == 200
    return True


@pytest.fixture
def admin_client(staff, password) -> Client:
    """A browser logged in to the admin as sam, through the admin's own login form."""
    client = Client()
    response = _admin_login(client, staff.username, password)
    assert response.status_code == 302, response.content
    assert _admin_opens(client)
    return client


def _as_api_session(client: Client) -> ModeClient:
    """The same browser, speaking to the API with its session cookie."""
    browser = ModeClient("session")
    browser.client.cookies["sessionid"] = client.cookies["sessionid"].value
    return browser


def test_the_admin_is_off_by_default_in_production():
    env = {**os.environ, "DEBUG": "false"}
    env.pop("ADMIN_ENABLED", None)
    probe = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.urls import Resolver404, resolve\n"
        "assert settings.ADMIN_ENABLED is False\n"
        "try:\n"
        "    resolve('/admin/')\n"
        "except Resolver404:\n"
        "    print('not served')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "project.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "not served"


def test_an_admin_login_is_a_listed_audited_session_family(audit_events, staff, password):
    client = Client()
    assert _admin_login(client, staff.username, password).status_code == 302
    sessions = _as_api_session(client).request("get", "/api/session/sessions/")
    assert sessions.status_code == 200
    [listed] = sessions.json()
    assert listed["current"] is True
    family = LoginFamily.objects.get(pk=listed["id"])
    assert (family.user_id, family.mode, family.revoked_at) == (staff.pk, "session", None)
    assert any(e["event"] == "login" and e["family_id"] == str(family.pk) for e in audit_events())


def test_failed_api_logins_lock_the_admin_login_too(staff, password):
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        assert ModeClient("jwt-header").login(staff.username, "wrong").status_code == 401
    client = Client()
    response = _admin_login(client, staff.username, password)
    assert response.status_code == 200
    assert b"Too many failed logins" in response.content
    assert not _admin_opens(client)


def test_failed_admin_logins_are_counted_and_audited_like_api_logins(staff, password, audit_events):
    limit = dualauth_settings.LOGIN_FAILURES_PER_USERNAME
    for _ in range(limit):
        response = _admin_login(Client(), staff.username, "wrong")
        assert response.status_code == 200
        assert b"Too many failed logins" not in response.content
    assert ModeClient("session").login(staff.username, password).status_code == 429
    assert _admin_login(Client(), staff.username, password).status_code == 200
    failures = [e for e in audit_events() if e["event"] == "login_failed"]
    assert len(failures) == limit


@pytest.mark.parametrize("mode", MODES)
def test_logout_all_from_any_mode_ends_the_admin_login(admin_client, staff, password, mode):
    api = ModeClient(mode)
    assert api.login(staff.username, password).status_code == 200
    assert api.request("post", "/api/logout-all/").status_code == 204
    assert not _admin_opens(admin_client)


def test_revoking_the_admin_session_from_another_session_ends_it(admin_client, staff, password):
    other = ModeClient("session")
    assert other.login(staff.username, password).status_code == 200
    [admin_session] = [
        s for s in other.request("get", "/api/session/sessions/").json() if not s["current"]
    ]
    assert (
        other.request("delete", f"/api/session/sessions/{admin_session['id']}/").status_code == 204
    )
    assert not _admin_opens(admin_client)


def test_an_api_session_cookie_no_longer_opens_the_admin_after_logout_all(staff, password):
    api = ModeClient("session")
    assert api.login(staff.username, password).status_code == 200
    browser = Client()
    browser.cookies["sessionid"] = api.client.cookies["sessionid"].value
    assert _admin_opens(browser)
    assert api.request("post", "/api/logout-all/").status_code == 204
    assert not _admin_opens(browser)


def test_a_django_session_without_a_family_does_not_open_the_admin(staff, familyless_session):
    browser = Client()
    browser.cookies["sessionid"] = familyless_session(staff)
    assert not _admin_opens(browser)


def test_the_admin_logout_revokes_its_family(admin_client, staff):
    family = LoginFamily.objects.get(user=staff, revoked_at__isnull=True)
    assert admin_client.post("/admin/logout/").status_code == 200
    family.refresh_from_db()
    assert family.revoked_at is not None
    assert family.revoke_reason == "logout"


def test_an_idle_admin_session_ends_at_the_idle_timeout(admin_client, time_machine):
    idle = dualauth_settings.SESSION_IDLE_TIMEOUT
    time_machine.move_to(timezone.now() + idle - timedelta(seconds=5), tick=False)
    assert _admin_opens(admin_client)
    time_machine.move_to(timezone.now() + idle + timedelta(seconds=5), tick=False)
    assert not _admin_opens(admin_client)


def test_an_admin_session_ends_at_the_absolute_timeout(admin_client, time_machine):
    absolute = dualauth_settings.SESSION_ABSOLUTE_TIMEOUT
    step = dualauth_settings.SESSION_IDLE_TIMEOUT / 2
    elapsed = timedelta(0)
    time_machine.move_to(timezone.now(), tick=False)
    # Active all along, so that only the absolute timeout can end it.
    while elapsed + step < absolute:
        elapsed += step
        time_machine.shift(step)
        assert _admin_opens(admin_client)
    time_machine.shift(absolute - elapsed + timedelta(seconds=1))
    assert not _admin_opens(admin_client)


@pytest.mark.parametrize("mode", MODES)
def test_a_password_set_in_the_admin_ends_every_login_of_that_user(
    admin_client, user, password, mode
):
    victim = ModeClient(mode)
    assert victim.login(user.username, password).status_code == 200
    new = "another horse battery staple"
    response = admin_client.post(
        f"/admin/auth/user/{user.pk}/password/", {"password1": new, "password2": new}
    )
    assert response.status_code == 302, response.content
    assert victim.request("get", victim.profile_path).status_code == 401


def test_an_admin_login_over_an_earlier_session_of_the_same_user_gets_a_new_key(staff, password):
    api = ModeClient("session")
    assert api.login(staff.username, password).status_code == 200
    assert api.request("post", "/api/logout-all/").status_code == 204
    earlier = api.client.cookies["sessionid"].value
    browser = Client()
    browser.cookies["sessionid"] = earlier
    assert _admin_login(browser, staff.username, password).status_code == 302
    assert browser.cookies["sessionid"].value != earlier
    assert _admin_opens(browser)
    replayed = Client()
    replayed.cookies["sessionid"] = earlier
    assert not _admin_opens(replayed)


def _totp_enable(user) -> pyotp.TOTP:
    """Give `user` an authenticator app, through the services the API uses."""
    login = uuid.uuid4()
    setup = totp_setup_get(user_id=user.pk, family_id=login)
    totp = pyotp.TOTP(str(setup["secret"]))
    totp_enable(
        user_id=user.pk, family_id=login, code=totp.now(), request=RequestFactory().post("/")
    )
    return totp


def test_a_password_alone_does_not_open_the_admin_to_a_user_with_a_second_factor(staff, password):
    totp = _totp_enable(staff)
    client = Client()
    response = _admin_login(client, staff.username, password)
    assert response.status_code == 200
    assert "sessionid" not in client.cookies
    assert not _admin_opens(client)
    response = client.post(
        ADMIN_LOGIN,
        {
            "username": staff.username,
            "password": password,
            "code": totp.at(timezone.now() + timedelta(seconds=30)),
            "next": ADMIN,
        },
    )
    assert response.status_code == 302
    assert _admin_opens(client)


def test_a_wrong_admin_code_is_counted_like_a_wrong_password(staff, password, audit_events):
    _totp_enable(staff)
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        response = Client().post(
            ADMIN_LOGIN, {"username": staff.username, "password": password, "code": "000000"}
        )
        assert response.status_code == 200
    assert [e["event"] for e in audit_events()].count("mfa_failed") == (
        dualauth_settings.LOGIN_FAILURES_PER_USERNAME
    )
    response = _admin_login(Client(), staff.username, password)
    assert "Too many failed logins" in response.content.decode()


def test_failures_elsewhere_do_not_lock_the_admin_out_of_a_known_device(staff, password):
    totp = _totp_enable(staff)
    # The device cookie an earlier login of this browser got.
    device = device_token_issue(user=staff)
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME + 1):
        ModeClient("jwt-header").login(staff.username, "wrong")
    browser = Client()
    browser.cookies[dualauth_settings.DEVICE_COOKIE_NAME] = device
    code = totp.at(timezone.now() + timedelta(seconds=30))
    response = browser.post(
        ADMIN_LOGIN, {"username": staff.username, "password": password, "code": code, "next": ADMIN}
    )
    assert response.status_code == 302, response.content
    assert _admin_opens(browser)


def test_every_admin_page_answers_under_the_page_policy(admin_client):
    pages = {
        ADMIN_LOGIN: Client().get(ADMIN_LOGIN),
        ADMIN: admin_client.get(ADMIN),
        "users": admin_client.get("/admin/auth/user/"),
        "new user": admin_client.get("/admin/auth/user/add/"),
        "jsi18n": admin_client.get("/admin/jsi18n/"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert response["Content-Security-Policy"] == PAGE_CSP, name
