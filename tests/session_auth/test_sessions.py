"""The session store keeps a keyed hash of each session key: nothing at rest logs in."""

from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import connection

from session_auth.sessions import SessionStore, session_key_stored
from tests.conftest import cache_clear
from tests.modes import ModeClient

session_keys_hash = import_module(
    "session_auth.migrations.0001_hash_session_keys"
).session_keys_hash


@pytest.fixture
def session(user, password) -> ModeClient:
    """A session-mode client logged in as alice."""
    client = ModeClient("session")
    assert client.login(user.username, password).status_code == 200
    return client


def _cookie(client: ModeClient) -> str:
    return str(client.client.cookies["sessionid"].value)


def _replays(value: str) -> int:
    """The status of a profile read that presents `value` as the session cookie."""
    thief = ModeClient("session")
    thief.client.cookies["sessionid"] = value
    return int(thief.request("get", "/api/session/profile/").status_code)


def _session_cache_keys() -> list[str]:
    """Every session key in the session cache, by the name it was stored under."""
    cache = caches["default"]
    if hasattr(cache, "keys"):
        return [str(key) for key in cache.keys(f"{KEY_PREFIX}*")]
    return [key.split(":", 2)[2] for key in cache._cache if KEY_PREFIX in key]  # type: ignore[attr-defined]


def test_neither_the_database_nor_the_cache_holds_a_session_key_that_logs_in(session):
    cookie = _cookie(session)
    assert session.request("get", "/api/session/profile/").status_code == 200
    rows = list(Session.objects.values_list("session_key", flat=True))
    cached = [key.removeprefix(KEY_PREFIX) for key in _session_cache_keys()]
    assert session_key_stored(cookie) in rows
    assert session_key_stored(cookie) in cached
    assert all(cookie not in value for value in rows + cached)
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_key, session_data FROM django_session")
        assert all(cookie not in " ".join(row) for row in cursor.fetchall())
    for value in {*rows, *cached}:
        assert _replays(value) == 401


def test_a_session_stored_under_its_raw_key_moves_under_its_hash_still_logged_in(session):
    cookie = _cookie(session)
    stored = Session.objects.get(session_key=session_key_stored(cookie))
    Session.objects.filter(pk=stored.pk).delete()
    Session.objects.create(
        session_key=cookie, session_data=stored.session_data, expire_date=stored.expire_date
    )
    cache_clear()
    caches["default"].set(KEY_PREFIX + cookie, {"planted": True})
    session_keys_hash(apps, None)
    assert caches["default"].get(KEY_PREFIX + cookie) is None
    assert not Session.objects.filter(session_key=cookie).exists()
    assert Session.objects.filter(session_key=session_key_stored(cookie)).exists()
    assert session.request("get", "/api/session/profile/").status_code == 200


def test_the_store_finds_deletes_and_cycles_sessions_by_their_raw_key(session):
    cookie = _cookie(session)
    store = SessionStore()
    assert store.exists(cookie)
    store.delete(cookie)
    assert not store.exists(cookie)
    assert _replays(cookie) == 401
