"""The tests' mode clients follow the configured cookie names, not Django's or dualauth's
defaults: a project that renames its cookies is tested as it runs.
"""

import pytest

from common.routes import JWT_COOKIE, SESSION
from tests.conftest import PASSWORD
from tests.modes import ModeClient, credential_cookie, csrf_cookie

pytestmark = pytest.mark.django_db
RENAMED = {
    "SESSION_COOKIE_NAME": "renamed_session",
    "CSRF_COOKIE_NAME": "renamed_csrf",
    "ACCESS_COOKIE_NAME": "renamed_access",
    "REFRESH_COOKIE_NAME": "renamed_refresh",
}


@pytest.fixture(params=[SESSION, JWT_COOKIE])
def cookie_mode(request: pytest.FixtureRequest) -> str:
    """Each mode whose credential rides in a cookie."""
    return str(request.param)


@pytest.fixture
def renamed_cookies(settings):
    """Every cookie of a login under a name none of the defaults has."""
    settings.SESSION_COOKIE_NAME = RENAMED["SESSION_COOKIE_NAME"]
    settings.CSRF_COOKIE_NAME = RENAMED["CSRF_COOKIE_NAME"]
    settings.DUALAUTH = {
        **settings.DUALAUTH,
        "ACCESS_COOKIE_NAME": RENAMED["ACCESS_COOKIE_NAME"],
        "REFRESH_COOKIE_NAME": RENAMED["REFRESH_COOKIE_NAME"],
    }


def test_a_mode_client_logs_in_edits_and_logs_out_under_renamed_cookies(
    renamed_cookies, cookie_mode, user
):
    client = ModeClient(cookie_mode)
    assert client.login(user.get_username(), PASSWORD).status_code == 200
    assert credential_cookie(cookie_mode) in RENAMED.values()
    assert csrf_cookie() == RENAMED["CSRF_COOKIE_NAME"]
    credential = client.credential()
    edited = client.request("patch", client.profile_path, {"bio": "renamed"})
    assert edited.status_code == 200, edited.content
    assert edited.json()["bio"] == "renamed"
    assert client.logout().status_code == 204
    client.replay(credential)
    assert client.request("get", client.profile_path).status_code == 401
