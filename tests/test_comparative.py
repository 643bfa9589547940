"""One scenario, three modes, over real HTTP in both configurations the product runs in (make
run's and production's): the same profile, and the documented differences.
"""

from collections.abc import Callable, Iterator

import pytest

from common.routes import MODES
from tests.common.accounts.conftest import DEAD_CREDENTIAL_CODE, NEW_PASSWORD
from tests.modes import PASSWORD, PROFILE_CHALLENGES
from tests.sites import (
    Account,
    Admin,
    Site,
    cache_directives,
    logged_in_at,
    profile_expected,
    staff_make,
)
from tests.stack.clients import StackClient

# Production's configuration serves the test database, which pytest-django sets up only for
# a run holding a test marked for it.
pytestmark = [pytest.mark.server, pytest.mark.django_db]
# A Bearer request carries no cookie a forger could ride on: CSRF does not apply to it.
COOKIE_MODES = pytest.mark.parametrize("mode", ["session", "jwt-cookie"])
# Which list shows a mode's logins: a session's sessions, or the devices of either JWT mode.
LOGINS_LIST = {"session": "sessions", "jwt-header": "devices", "jwt-cookie": "devices"}


@pytest.fixture(scope="module")
def admin(site: Site) -> Iterator[Admin]:
    """A superuser that `createsuperuser` made, at the site's admin: where an operator
    deactivates or deletes a user (every way Django saves or deletes one sends its signals).
    """
    admin = Admin(site, staff_make(site, PASSWORD))
    yield admin
    admin.close()


def test_every_mode_reads_the_identical_profile(
    site: Site, account: Account, agent: Callable[[str], StackClient]
) -> None:
    bodies = []
    for mode in MODES:
        response = logged_in_at(site, agent(mode), account).profile(site.url)
        assert response.status_code == 200, response.text
        assert response.headers["Auth-Mode"] == mode
        assert response.headers["Content-Type"] == "application/json"
        bodies.append(response.json())
    # Its id is one of the user model the tests run with (a UUID's text with the custom user
    # model): the server runs that model too.
    assert bodies[0] == profile_expected(account)
    assert bodies[1] == bodies[0]
    assert bodies[2] == bodies[0]


def test_an_update_in_one_mode_is_seen_identically_in_every_mode(
    site: Site, signed_in: StackClient, account: Account, agent: Callable[[str], StackClient]
) -> None:
    mode = signed_in.mode
    response = signed_in.profile_update(site.url, display_name=f"Alice ({mode})", bio=mode)
    assert response.status_code == 200, response.text
    assert response.headers["Auth-Mode"] == mode
    expected = profile_expected(account, display_name=f"Alice ({mode})", bio=mode)
    assert response.json() == expected
    for other_mode in MODES:
        other = logged_in_at(site, agent(other_mode), account)
        assert other.profile(site.url).json() == response.json(), other_mode


def test_read_only_profile_fields_do_not_change(
    site: Site, signed_in: StackClient, account: Account
) -> None:
    response = signed_in.request(
        "PATCH",
        site.route("profile", signed_in.mode),
        {"username": "mallory", "id": 99, "email": "m@x.io", "date_joined": "2000-01-01"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == profile_expected(account)
    assert signed_in.profile(site.url).json() == profile_expected(account)


@pytest.mark.parametrize(
    ("body", "field"),
    [({"display_name": "x" * 101}, "display_name"), ({"bio": "x" * 501}, "bio")],
)
def test_an_oversized_profile_field_is_a_400_that_changes_nothing(
    site: Site, signed_in: StackClient, account: Account, body: dict[str, str], field: str
) -> None:
    response = signed_in.request("PATCH", site.route("profile", signed_in.mode), body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert set(response.json()["errors"]) == {field}
    assert signed_in.profile(site.url).json() == profile_expected(account)


def test_a_write_without_csrf_is_refused_exactly_when_a_cookie_authenticated_it(
    site: Site, signed_in: StackClient, account: Account
) -> None:
    response = signed_in.request(
        "PATCH", site.route("profile", signed_in.mode), {"display_name": "forged"}, csrf=False
    )
    if signed_in.mode == "jwt-header":
        assert response.status_code == 200, response.text
        assert response.json() == profile_expected(account, display_name="forged")
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "csrf_failed"
        assert signed_in.profile(site.url).json() == profile_expected(account)


@COOKIE_MODES
def test_a_write_with_a_wrong_csrf_token_is_refused_in_cookie_modes(
    site: Site, signed_in: StackClient, account: Account
) -> None:
    response = signed_in.request(
        "PATCH",
        site.route("profile", signed_in.mode),
        {"display_name": "forged"},
        headers={"X-CSRFToken": "x" * 64},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert signed_in.profile(site.url).json() == profile_expected(account)


@COOKIE_MODES
def test_a_write_from_a_foreign_origin_is_refused_in_cookie_modes(
    site: Site, signed_in: StackClient, account: Account
) -> None:
    response = signed_in.request(
        "PATCH",
        site.route("profile", signed_in.mode),
        {"display_name": "forged"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert signed_in.profile(site.url).json() == profile_expected(account)


def test_logging_out_kills_the_credential_for_a_replay(site: Site, signed_in: StackClient) -> None:
    replay = site.replay_of(signed_in)
    assert signed_in.logout(site.url).status_code == 204
    response = replay.profile(site.url)
    assert response.status_code == 401
    assert response.json()["code"] == DEAD_CREDENTIAL_CODE[signed_in.mode]
    assert response.headers["WWW-Authenticate"] == PROFILE_CHALLENGES[signed_in.mode]


def test_no_credential_at_all_is_a_401_with_a_challenge(
    site: Site, mode: str, agent: Callable[[str], StackClient]
) -> None:
    response = agent(mode).profile(site.url)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert response.headers["WWW-Authenticate"] == PROFILE_CHALLENGES[mode]


@pytest.mark.parametrize("other_mode", MODES)
def test_logout_all_ends_every_login_in_every_mode(
    site: Site,
    signed_in: StackClient,
    account: Account,
    agent: Callable[[str], StackClient],
    other_mode: str,
) -> None:
    other = logged_in_at(site, agent(other_mode), account)
    # The caller's browser loses its credential cookies with the answer: a copy is replayed.
    replayed = site.replay_of(signed_in)
    assert signed_in.logout_all(site.url).status_code == 204
    for client in (replayed, other):
        response = client.profile(site.url)
        assert response.status_code == 401, client.mode
        assert response.json()["code"] == DEAD_CREDENTIAL_CODE[client.mode]


@pytest.mark.parametrize("other_mode", MODES)
def test_a_password_change_keeps_the_callers_login_and_ends_every_other(
    site: Site,
    signed_in: StackClient,
    account: Account,
    agent: Callable[[str], StackClient],
    other_mode: str,
) -> None:
    other = logged_in_at(site, agent(other_mode), account)
    response = signed_in.request(
        "POST",
        site.route("password"),
        {"old_password": account.password, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 204, response.text
    assert signed_in.profile(site.url).status_code == 200
    refused = other.profile(site.url)
    assert refused.status_code == 401
    assert refused.json()["code"] == DEAD_CREDENTIAL_CODE[other_mode]
    fresh = agent(signed_in.mode)
    assert fresh.login(site.url, account.username, account.password).status_code == 401
    assert fresh.login(site.url, account.username, NEW_PASSWORD).status_code == 200


def test_a_deactivated_user_is_refused_at_the_next_request(
    site: Site, signed_in: StackClient, admin: Admin
) -> None:
    assert signed_in.profile(site.url).status_code == 200
    admin.user_deactivate(signed_in.profile(site.url).json()["id"])
    response = signed_in.profile(site.url)
    assert response.status_code == 401
    assert response.json()["code"] == DEAD_CREDENTIAL_CODE[signed_in.mode]


def test_a_deleted_user_is_refused_at_the_next_request(
    site: Site, signed_in: StackClient, admin: Admin
) -> None:
    assert signed_in.profile(site.url).status_code == 200
    admin.user_delete(signed_in.profile(site.url).json()["id"])
    response = signed_in.profile(site.url)
    assert response.status_code == 401
    assert response.json()["code"] == DEAD_CREDENTIAL_CODE[signed_in.mode]


def test_authenticated_responses_are_never_cached(
    site: Site, signed_in: StackClient, agent: Callable[[str], StackClient]
) -> None:
    for response in (
        signed_in.profile(site.url),
        signed_in.request("GET", site.route("logins", signed_in.mode)),
        agent(signed_in.mode).profile(site.url),
    ):
        assert "no-store" in cache_directives(response), response.request.url


@pytest.mark.parametrize("target_mode", MODES)
def test_each_revoke_endpoint_ends_only_the_logins_its_own_list_shows(
    site: Site,
    signed_in: StackClient,
    account: Account,
    agent: Callable[[str], StackClient],
    target_mode: str,
) -> None:
    target = logged_in_at(site, agent(target_mode), account)
    (family_id,) = [
        row["id"]
        for row in target.request("GET", site.route("logins", target_mode)).json()
        if row["current"]
    ]
    own_list = signed_in.request("GET", site.route("logins", signed_in.mode)).json()
    listed = family_id in {row["id"] for row in own_list}
    assert listed == (LOGINS_LIST[signed_in.mode] == LOGINS_LIST[target_mode])
    response = signed_in.request(
        "DELETE", site.route("login-revoke", signed_in.mode, family_id=family_id)
    )
    if listed:
        assert response.status_code == 204
        assert target.profile(site.url).status_code == 401
    else:
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert target.profile(site.url).status_code == 200
