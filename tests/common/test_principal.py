"""The principal on the hot path: no SQL in the steady state, true to the user, frozen."""

from dataclasses import FrozenInstanceError

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.serializers import Serializer

from common.logins import login_authenticate
from common.models import LoginFamily
from common.principal import principal_from_user
from common.selectors import user_get
from common.serializers import ProfileSerializer
from common.services import profile_update


def _warm(client) -> None:
    for _ in range(2):
        assert client.request("get", client.profile_path).status_code == 200


def test_a_steady_state_profile_read_costs_no_sql_in_any_mode(logged_in):
    _warm(logged_in)
    with CaptureQueriesContext(connection) as queries:
        response = logged_in.request("get", logged_in.profile_path)
    assert response.status_code == 200
    assert [q["sql"] for q in queries.captured_queries] == []


def test_a_profile_edit_is_seen_at_once_despite_the_cached_snapshot(logged_in, user):
    _warm(logged_in)
    profile_update(user_id=user.pk, display_name="Changed elsewhere")
    assert logged_in.request("get", logged_in.profile_path).json()["display_name"] == (
        "Changed elsewhere"
    )


def test_the_hot_path_gives_a_frozen_principal_of_the_user(logged_in, user):
    _warm(logged_in)
    family = LoginFamily.objects.get(user=user)
    found = login_authenticate(family_id=family.pk, user_id=user.pk)
    assert found is not None
    principal = found[1]
    assert principal == principal_from_user(user_get(user_id=user.pk))
    assert principal.get_session_auth_hash() == user.get_session_auth_hash()
    with pytest.raises(FrozenInstanceError):
        principal.username = "mallory"


def test_a_family_of_another_user_is_not_a_login(logged_in, user, make_user):
    family = LoginFamily.objects.get(user=user)
    assert login_authenticate(family_id=family.pk, user_id=make_user("bob").pk) is None


def test_the_fast_profile_body_is_what_the_declared_fields_describe(user):
    principal = principal_from_user(user)
    serializer = ProfileSerializer(principal)
    assert serializer.data == Serializer.to_representation(ProfileSerializer(), principal)
