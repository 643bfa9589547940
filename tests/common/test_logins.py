"""A login's checks: no user enumeration, and revocation state in the cache."""

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.cache import cache_get
from common.logins import families_revoke, login_authenticate
from common.models import LoginFamily
from common.selectors import REVOKED, family_cache_key
from tests.conftest import cache_clear, login_name
from tests.modes import MODES, ModeClient

ALICE = login_name("alice")


@pytest.mark.parametrize("mode", MODES)
def test_unknown_inactive_unusable_and_wrong_password_are_indistinguishable(
    make_user, counting_hasher, mode
):
    make_user("alice")
    ivan = make_user("ivan")
    type(ivan).objects.filter(pk=ivan.pk).update(is_active=False)
    nopass = make_user("nopass")
    nopass.set_unusable_password()
    nopass.save()
    cases = {
        "unknown": ("nobody", "whatever 1"),
        "wrong": (ALICE, "whatever 1"),
        "inactive": (login_name("ivan"), "correct horse battery staple"),
        "unusable": (login_name("nopass"), "whatever 1"),
    }
    seen = {}
    for case, (username, password) in cases.items():
        cache_clear()
        client = ModeClient(mode)
        client.csrf_token()
        counting_hasher.calls = 0
        response = client.login(username, password)
        headers = {k: v for k, v in response.items() if k not in {"Date", "Expires"}}
        cookies = {name: dict(morsel) for name, morsel in response.cookies.items()}
        seen[case] = (response.status_code, response.content, headers, cookies)
        assert counting_hasher.calls == 1, case
    assert seen["unknown"] == seen["wrong"] == seen["inactive"] == seen["unusable"]
    assert seen["wrong"][0] == 401


@pytest.mark.usefixtures("revocation")
def test_a_steady_state_token_request_reads_no_family_from_the_database(user, password):
    client = ModeClient("jwt-header")
    client.login(ALICE, password)
    client.request("get", client.profile_path)
    with CaptureQueriesContext(connection) as queries:
        assert client.request("get", client.profile_path).status_code == 200
    assert not [q for q in queries.captured_queries if "loginfamily" in q["sql"].lower()]


@pytest.mark.usefixtures("revocation")
def test_a_revocation_is_written_to_the_cache_at_once(user, password):
    client = ModeClient("jwt-header")
    client.login(ALICE, password)
    client.request("get", client.profile_path)
    family = LoginFamily.objects.get()
    families_revoke(user_id=user.pk, reason="test")
    assert cache_get(family_cache_key(family.pk, user.pk)) == REVOKED
    with CaptureQueriesContext(connection) as queries:
        assert login_authenticate(family_id=family.pk, user_id=user.pk) is None
    assert not queries.captured_queries


def test_with_the_cache_down_a_live_token_still_works_and_a_revoked_one_stays_revoked(
    make_user, password, cache_down
):
    make_user("alice")
    live, doomed = ModeClient("jwt-header"), ModeClient("jwt-header")
    live.login(ALICE, password)
    doomed.login(ALICE, password)
    assert doomed.request("get", doomed.profile_path).status_code == 200
    assert (
        doomed.request(
            "post", "/api/jwt/logout/", {"refresh": doomed.tokens["refresh"]}
        ).status_code
        == 204
    )
    assert doomed.request("get", doomed.profile_path).json()["code"] == "token_revoked"
    assert live.request("get", live.profile_path).status_code == 200


@pytest.mark.usefixtures("revocation")
def test_a_revocation_that_missed_the_cache_is_written_once_it_is_back(
    user, password, settings, dead_cache
):
    client = ModeClient("jwt-header")
    client.login(ALICE, password)
    client.request("get", client.profile_path)
    family = LoginFamily.objects.get()
    working = settings.CACHES
    settings.CACHES = {**working, "dualauth": dead_cache}
    families_revoke(user_id=user.pk, reason="during outage")
    settings.CACHES = working
    assert caches["dualauth"].get(family_cache_key(family.pk, user.pk)) != REVOKED
    assert client.request("get", client.profile_path).status_code == 401
    assert caches["dualauth"].get(family_cache_key(family.pk, user.pk)) == REVOKED
