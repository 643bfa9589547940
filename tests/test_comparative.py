"""One scenario, three modes: the same profile, and the documented differences."""

import json

import pytest
from django.contrib.auth.models import User
from rest_framework.renderers import JSONRenderer

from common.models import LoginFamily
from common.principal import principal_from_user
from common.selectors import user_get
from common.serializers import ProfileSerializer
from tests.modes import MODES, ModeClient

# A Bearer request carries no cookie a forger could ride on: CSRF does not apply to it.
COOKIE_MODES = pytest.mark.parametrize("mode", ["session", "jwt-cookie"])
PROFILE = {"id", "username", "email", "display_name", "bio", "date_joined"}
# How each mode names a credential that is gone.
DEAD_CREDENTIAL_CODE = {
    "session": "not_authenticated",
    "jwt-header": "token_revoked",
    "jwt-cookie": "token_revoked",
}


def _profile_of(user: User) -> dict[str, object]:
    """The profile body of `user` as the one serializer renders it, read from the database."""
    found = user_get(user_id=user.pk)
    assert found is not None
    # As the API renders it: a UUID key is a string in JSON.
    return dict(
        json.loads(JSONRenderer().render(ProfileSerializer(principal_from_user(found)).data))
    )


def test_every_mode_reads_the_identical_profile(logged_in, user):
    response = logged_in.request("get", logged_in.profile_path)
    assert response.status_code == 200
    assert response["Auth-Mode"] == logged_in.mode
    body = response.json()
    assert body == _profile_of(user)
    assert set(body) == PROFILE
    assert body["username"] == user.get_username()
    assert body["date_joined"].endswith("Z")


def test_an_update_in_one_mode_is_seen_identically_in_every_mode(logged_in, user):
    mode = logged_in.mode
    response = logged_in.request(
        "patch", logged_in.profile_path, {"display_name": f"Alice ({mode})", "bio": mode}
    )
    assert response.status_code == 200, response.content
    assert response["Auth-Mode"] == mode
    assert response.json()["display_name"] == f"Alice ({mode})"
    assert response.json() == _profile_of(user)
    assert logged_in.request("get", logged_in.profile_path).json() == _profile_of(user)


def test_read_only_profile_fields_do_not_change(logged_in, user):
    response = logged_in.request(
        "patch", logged_in.profile_path, {"username": "mallory", "id": 99, "email": "m@x.io"}
    )
    assert response.status_code == 200
    assert response.json()["username"] == user.get_username()
    assert response.json()["email"] == user.email


@pytest.mark.parametrize(
    ("body", "field"),
    [({"display_name": "x" * 101}, "display_name"), ({"bio": "x" * 501}, "bio")],
)
def test_an_oversized_profile_field_is_a_400_that_changes_nothing(logged_in, body, field):
    response = logged_in.request("patch", logged_in.profile_path, body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["errors"]
    assert logged_in.request("get", logged_in.profile_path).json()[field] != body[field]


def test_a_write_without_csrf_is_refused_exactly_when_a_cookie_authenticated_it(logged_in):
    response = logged_in.request(
        "patch", logged_in.profile_path, {"display_name": "forged"}, csrf=False
    )
    if logged_in.mode == "jwt-header":
        assert response.status_code == 200
        assert response.json()["display_name"] == "forged"
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "csrf_failed"
        assert logged_in.request("get", logged_in.profile_path).json()["display_name"] == "Alice"


@COOKIE_MODES
def test_a_write_with_a_wrong_csrf_token_is_refused_in_cookie_modes(logged_in):
    response = logged_in.client.patch(
        logged_in.profile_path,
        {"display_name": "forged"},
        format="json",
        HTTP_X_CSRFTOKEN="x" * 64,
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


@COOKIE_MODES
def test_a_write_from_a_foreign_origin_is_refused_in_cookie_modes(logged_in):
    response = logged_in.client.patch(
        logged_in.profile_path,
        {"display_name": "forged"},
        format="json",
        HTTP_X_CSRFTOKEN=logged_in.csrf_token(),
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


def test_logging_out_kills_the_credential_for_a_replay(logged_in):
    old = logged_in.credential()
    assert logged_in.logout().status_code == 204
    logged_in.replay(old)
    response = logged_in.request("get", logged_in.profile_path)
    assert response.status_code == 401
    assert response.json()["code"] == DEAD_CREDENTIAL_CODE[logged_in.mode]
    assert "WWW-Authenticate" in response


def test_no_credential_at_all_is_a_401_with_a_challenge(mode_client):
    response = mode_client.request("get", mode_client.profile_path)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"]


@pytest.mark.parametrize("other_mode", MODES)
def test_logout_all_ends_every_login_in_every_mode(logged_in, user, password, other_mode):
    other = ModeClient(other_mode)
    assert other.login(user.get_username(), password).status_code == 200
    own = logged_in.credential()
    assert logged_in.request("post", "/api/logout-all/").status_code == 204
    # The caller's browser lost its cookies with the answer: replayed, they are refused too.
    logged_in.replay(own)
    for client in (logged_in, other):
        response = client.request("get", client.profile_path)
        assert response.status_code == 401, client.mode
        assert response.json()["code"] == DEAD_CREDENTIAL_CODE[client.mode]


@pytest.mark.parametrize("other_mode", MODES)
def test_a_password_change_keeps_the_callers_login_and_ends_every_other(
    logged_in, user, password, other_mode
):
    other = ModeClient(other_mode)
    assert other.login(user.get_username(), password).status_code == 200
    response = logged_in.request(
        "post", "/api/password/", {"old_password": password, "new_password": "a new passphrase 42"}
    )
    assert response.status_code == 204, response.content
    assert logged_in.request("get", logged_in.profile_path).status_code == 200
    assert other.request("get", other.profile_path).status_code == 401
    fresh = ModeClient(logged_in.mode)
    assert fresh.login(user.get_username(), "a new passphrase 42").status_code == 200


def test_a_deactivated_user_is_refused_at_the_next_request(logged_in, user):
    user.is_active = False
    user.save()
    response = logged_in.request("get", logged_in.profile_path)
    assert response.status_code == 401


def test_a_deleted_user_is_refused_at_the_next_request(logged_in, user):
    user.delete()
    response = logged_in.request("get", logged_in.profile_path)
    assert response.status_code == 401


def test_authenticated_responses_are_never_cached(logged_in):
    response = logged_in.request("get", logged_in.profile_path)
    assert "no-store" in response["Cache-Control"]


LOGINS_PATHS = {
    "session": "/api/session/sessions/",
    "jwt-header": "/api/jwt/devices/",
    "jwt-cookie": "/api/jwt/devices/",
}


@pytest.mark.parametrize("target_mode", MODES)
def test_each_revoke_endpoint_ends_only_the_logins_its_own_list_shows(
    logged_in, user, password, target_mode
):
    target = ModeClient(target_mode)
    assert target.login(user.get_username(), password).status_code == 200
    family = LoginFamily.objects.filter(user=user, mode=target_mode).latest("created_at")
    path = LOGINS_PATHS[logged_in.mode]
    listed = {row["id"] for row in logged_in.request("get", path).json()}
    response = logged_in.request("delete", f"{path}{family.pk}/")
    if str(family.pk) in listed:
        assert response.status_code == 204
        assert target.request("get", target.profile_path).status_code == 401
    else:
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert target.request("get", target.profile_path).status_code == 200
