"""Session mode, row by row of the contract."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from common.conf import dualauth_settings
from common.models import LoginFamily
from common.selectors import family_cache_key
from session_auth.services import FAMILY_SESSION_KEY, SEEN_SESSION_KEY
from session_auth.sessions import SessionStore
from tests.conftest import login_name
from tests.modes import LOGIN_FIELDS, ModeClient

ALICE = login_name("alice")


@pytest.fixture
def browser() -> ModeClient:
    """A session-mode client, not logged in."""
    return ModeClient("session")


@pytest.fixture
def session(browser, user, password) -> ModeClient:
    """A session-mode client logged in as alice."""
    assert browser.login(user.get_username(), password).status_code == 200
    return browser


def _session_store(client: ModeClient) -> SessionStore:
    return SessionStore(session_key=client.client.cookies["sessionid"].value)


def test_csrf_bootstrap_returns_a_usable_token_and_sets_a_script_readable_cookie(
    api, user, password
):
    response = api.get("/api/session/csrf/")
    assert response.status_code == 200
    assert set(response.json()) == {"csrf_token"}
    cookie = response.cookies["csrftoken"]
    assert not cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    login = api.post(
        "/api/session/login/",
        {"username": ALICE, "password": password},
        format="json",
        HTTP_X_CSRFTOKEN=response.json()["csrf_token"],
    )
    assert login.status_code == 200


def test_login_returns_the_profile_and_sets_an_httponly_session_cookie(browser, user, password):
    response = browser.login(user.get_username(), password)
    assert response.status_code == 200
    assert response.json()["username"] == ALICE
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]
    absolute = dualauth_settings.SESSION_ABSOLUTE_TIMEOUT
    assert cookie["max-age"] == int(absolute.total_seconds())


def test_session_cookie_is_secure_when_the_deployment_is_https(browser, user, password, settings):
    settings.SESSION_COOKIE_SECURE = True
    response = browser.login(user.get_username(), password)
    assert response.cookies["sessionid"]["secure"]


def test_login_without_remember_sets_a_cookie_that_ends_with_the_browser(browser, user, password):
    response = browser.login(user.get_username(), password, remember=False)
    cookie = response.cookies["sessionid"]
    assert cookie["max-age"] == ""
    assert cookie["expires"] == ""


def test_login_requires_csrf_so_there_is_no_login_csrf(api, user, password):
    response = api.post(
        "/api/session/login/", {"username": ALICE, "password": password}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert "sessionid" not in response.cookies


def test_login_issues_a_new_session_key_and_a_new_csrf_token(session, password):
    old_key = session.client.cookies["sessionid"].value
    old_csrf = session.csrf_token()
    response = session.login(ALICE, password)
    assert response.status_code == 200
    assert response.cookies["sessionid"].value != old_key
    assert response.cookies["csrftoken"].value != old_csrf
    assert not SessionStore().exists(old_key)


def test_a_planted_session_key_is_never_adopted_at_login(browser, user, password):
    browser.client.cookies["sessionid"] = "attackerchosenkey1234567890abcdef"
    response = browser.login(user.get_username(), password)
    assert response.status_code == 200
    assert response.cookies["sessionid"].value != "attackerchosenkey1234567890abcdef"


def test_login_with_a_stale_session_cookie_still_works(session, user, password):
    stale = session.client.cookies["sessionid"].value
    assert session.logout().status_code == 204
    session.client.cookies["sessionid"] = stale
    assert session.login(user.get_username(), password).status_code == 200


def test_logging_in_again_retires_the_previous_sessions_login(session, password):
    first = LoginFamily.objects.get()
    session.login(ALICE, password)
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert LoginFamily.objects.filter(revoked_at__isnull=True).count() == 1


@pytest.mark.usefixtures("revocation")
def test_logout_deletes_the_server_side_session_and_clears_the_cookie(session):
    key = session.client.cookies["sessionid"].value
    response = session.logout()
    assert response.status_code == 204
    assert response.cookies["sessionid"].value == ""
    assert response.cookies["sessionid"]["max-age"] == 0
    assert not SessionStore().exists(key)


def test_logout_without_a_session_is_a_401(browser):
    response = browser.request("post", "/api/session/logout/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Session")


def test_logout_by_get_is_not_allowed(session):
    response = session.request("get", "/api/session/logout/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_bearer_header_is_ignored_by_the_session_profile(session, user, password):
    session.client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert session.request("get", "/api/session/profile/").status_code == 200
    jwt = ModeClient("jwt-header")
    jwt.login(user.get_username(), password)
    response = jwt.request("get", "/api/session/profile/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_sessions_lists_my_live_sessions_with_the_current_one_marked(session, user, password):
    other = ModeClient("session")
    other.client.credentials(HTTP_USER_AGENT="OtherBrowser/1.0")
    other.login(user.get_username(), password)
    response = session.request("get", "/api/session/sessions/")
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 2
    assert {row["current"] for row in rows} == {True, False}
    assert set(rows[0]) == LOGIN_FIELDS
    keys = {session.client.cookies["sessionid"].value, other.client.cookies["sessionid"].value}
    assert not keys & {row["id"] for row in rows}
    assert any(row["user_agent"] == "OtherBrowser/1.0" for row in rows)
    assert {row["ip"] for row in rows} == {"127.0.0.1"}


@pytest.mark.usefixtures("revocation")
def test_deleting_a_session_ends_it_at_once(session, user, password):
    other = ModeClient("session")
    other.login(user.get_username(), password)
    rows = session.request("get", "/api/session/sessions/").json()
    target = next(row["id"] for row in rows if not row["current"])
    assert session.request("delete", f"/api/session/sessions/{target}/").status_code == 204
    assert other.request("get", "/api/session/profile/").status_code == 401
    assert session.request("get", "/api/session/profile/").status_code == 200
    assert len(session.request("get", "/api/session/sessions/").json()) == 1


def test_deleting_someone_elses_session_is_a_404(session, make_user, password):
    bob = ModeClient("session")
    make_user("bob")
    bob.login(login_name("bob"), password)
    bobs = bob.request("get", "/api/session/sessions/").json()[0]["id"]
    response = session.request("delete", f"/api/session/sessions/{bobs}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert bob.request("get", "/api/session/profile/").status_code == 200


@pytest.mark.parametrize("family_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_deleting_an_unknown_session_is_a_json_404(session, family_id):
    response = session.request("delete", f"/api/session/sessions/{family_id}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_session_idle_longer_than_the_idle_timeout_ends(session):
    store = _session_store(session)
    idle = dualauth_settings.SESSION_IDLE_TIMEOUT.total_seconds()
    store[SEEN_SESSION_KEY] = int(time.time() - idle) - 1
    store.save()
    response = session.request("get", "/api/session/profile/")
    assert response.status_code == 401
    assert LoginFamily.objects.get().revoke_reason == "idle_timeout"


def test_activity_keeps_a_session_alive_and_updates_last_seen(session):
    store = _session_store(session)
    # Seen long enough ago to be touched again, not so long ago that it ended.
    idle = dualauth_settings.SESSION_IDLE_TIMEOUT.total_seconds()
    touch = dualauth_settings.TOUCH_INTERVAL.total_seconds()
    store[SEEN_SESSION_KEY] = int(time.time() - (idle + touch) / 2)
    store.save()
    before = LoginFamily.objects.get().last_seen_at
    assert session.request("get", "/api/session/profile/").status_code == 200
    assert LoginFamily.objects.get().last_seen_at > before
    assert _session_store(session)[SEEN_SESSION_KEY] > time.time() - 60


def test_a_session_past_its_absolute_timeout_ends(session):
    family = LoginFamily.objects.get()
    assert _session_store(session)[FAMILY_SESSION_KEY] == family.pk.hex
    family.expires_at = timezone.now() - timedelta(seconds=1)
    family.save()
    cache.delete(family_cache_key(family.pk, family.user_id))
    assert session.request("get", "/api/session/profile/").status_code == 401


def test_a_session_without_a_login_family_is_refused(user, familyless_session):
    client = APIClient(enforce_csrf_checks=True)
    client.cookies["sessionid"] = familyless_session(user)
    response = client.get("/api/session/profile/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_login_made_anywhere_by_djangos_login_is_a_family(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.get("/api/session/sessions/")
    assert response.status_code == 200
    assert [session["current"] for session in response.json()] == [True]


def test_a_form_encoded_login_is_refused_as_unsupported(browser, password):
    response = browser.client.post(
        "/api/session/login/",
        {"username": ALICE, "password": password},
        HTTP_X_CSRFTOKEN=browser.csrf_token(),
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_a_text_plain_login_is_refused_as_unsupported(browser, password):
    response = browser.client.generic(
        "POST",
        "/api/session/login/",
        '{"username": "alice", "password": "x"}',
        content_type="text/plain",
        HTTP_X_CSRFTOKEN=browser.csrf_token(),
    )
    assert response.status_code == 415
