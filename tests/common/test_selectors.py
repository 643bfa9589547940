"""The hot path: a steady-state authenticated read needs no SQL, and the snapshot stays true."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.serializers import Serializer

from common.models import CachedUser, LoginFamily
from common.selectors import login_get
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
    profile_update(user=user, display_name="Changed elsewhere")
    assert logged_in.request("get", logged_in.profile_path).json()["display_name"] == (
        "Changed elsewhere"
    )


def test_a_cached_user_is_read_only(logged_in, user):
    _warm(logged_in)
    family = LoginFamily.objects.get(user=user)
    login = login_get(family_id=family.pk, user_id=user.pk)
    assert login is not None
    cached = login[1]
    assert isinstance(cached, CachedUser)
    assert cached.get_session_auth_hash() == user.get_session_auth_hash()
    with pytest.raises(TypeError, match="read-only"):
        cached.save()


def test_a_family_of_another_user_is_not_a_login(logged_in, user, make_user):
    family = LoginFamily.objects.get(user=user)
    assert login_get(family_id=family.pk, user_id=make_user("bob").pk) is None


def test_the_fast_profile_body_is_what_the_declared_fields_describe(user):
    serializer = ProfileSerializer(user)
    assert serializer.data == Serializer.to_representation(ProfileSerializer(), user)
