"""A password set anywhere, a user deactivated anywhere: every login ends; SQLite files private."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db.utils import ConnectionHandler
from django.utils import timezone

from common.conf import dualauth_settings
from tests.modes import ModeClient

User = get_user_model()
NEW_PASSWORD = "another horse battery staple"


def _refresh(client: ModeClient):
    """Ask for a new access token the way this mode does."""
    if client.mode == "jwt-header":
        return client.request(
            "post", "/api/jwt/token/refresh/", {"refresh": client.tokens["refresh"]}
        )
    return client.request("post", "/api/jwt/cookie/refresh/")


def _dead(client: ModeClient) -> None:
    """Assert that the client's login is over: no read, and no new token either."""
    assert client.request("get", client.profile_path).status_code == 401
    if client.mode != "session":
        assert _refresh(client).status_code == 401


@pytest.fixture
def short_snapshots(settings) -> timedelta:
    """User snapshots vouch for 10 s, well inside every token and session lifetime."""
    settings.DUALAUTH = {**settings.DUALAUTH, "FAMILY_CACHE_TTL": timedelta(seconds=10)}
    return dualauth_settings.FAMILY_CACHE_TTL


@pytest.mark.usefixtures("revocation")
def test_a_password_set_with_set_password_and_save_ends_every_login(logged_in, user):
    assert logged_in.request("get", logged_in.profile_path).status_code == 200
    user = User.objects.get(pk=user.pk)
    user.set_password(NEW_PASSWORD)
    user.save()
    _dead(logged_in)


@pytest.mark.usefixtures("revocation")
def test_a_password_saved_with_update_fields_ends_every_login(logged_in, user):
    user = User.objects.get(pk=user.pk)
    user.set_password(NEW_PASSWORD)
    user.save(update_fields=["password"])
    _dead(logged_in)


def test_a_save_that_keeps_the_password_ends_no_login(logged_in, user):
    user = User.objects.get(pk=user.pk)
    user.last_login = timezone.now()
    user.save()
    assert logged_in.request("get", logged_in.profile_path).status_code == 200


@pytest.mark.usefixtures("revocation")
def test_a_password_set_by_a_queryset_update_ends_every_login_within_the_snapshot_lifetime(
    logged_in, user, make_user, password, short_snapshots, time_machine
):
    bystander = ModeClient(logged_in.mode)
    bob = make_user("bob")
    assert bystander.login(bob.get_username(), password).status_code == 200
    time_machine.move_to(timezone.now(), tick=False)
    assert logged_in.request("get", logged_in.profile_path).status_code == 200
    User.objects.filter(pk=user.pk).update(password=make_password(NEW_PASSWORD))
    time_machine.shift(short_snapshots + timedelta(seconds=1))
    _dead(logged_in)
    assert bystander.request("get", bystander.profile_path).status_code == 200


def test_a_deactivation_that_bypasses_signals_ends_every_login_within_the_snapshot_lifetime(
    logged_in, user, short_snapshots, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    assert logged_in.request("get", logged_in.profile_path).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    time_machine.shift(short_snapshots + timedelta(seconds=1))
    _dead(logged_in)


def test_a_sqlite_database_is_readable_by_its_owner_alone(tmp_path: Path, django_db_blocker):
    path = tmp_path / "db.sqlite3"
    connection = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}}
    )["default"]
    previous = os.umask(0o022)
    try:
        with django_db_blocker.unblock():
            connection.ensure_connection()
            connection.close()
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o600
