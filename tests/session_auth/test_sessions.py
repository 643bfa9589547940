"""The session store keeps a keyed hash of each session key: nothing at rest logs in."""

import re
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth import login
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import connection
from django.test import RequestFactory

from common.conf import dualauth_settings
from common.selectors import user_hash_tag
from session_auth.services import SEEN_SESSION_KEY
from session_auth.sessions import SessionStore, session_key_hash_tag, session_key_stored
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
    # Each cache key is the prefix, the user's hash tag in braces, and the stored key.
    cached = [key.removeprefix(KEY_PREFIX).split("}")[-1] for key in _session_cache_keys()]
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


def test_a_login_session_key_ends_in_its_users_hash_tag(session, user):
    cookie = _cookie(session)
    assert session_key_hash_tag(cookie) == user_hash_tag(user.pk)
    # The random part is Django's: 32 characters of [a-z0-9], 165 bits.
    assert re.fullmatch(r"[a-z0-9]{32}-[0-9a-f]{4}", cookie)
    assert f"{{{user_hash_tag(user.pk)}}}" in SessionStore(cookie).cache_key


def test_a_session_started_without_the_tag_gets_a_new_key_with_it(user):
    # Django's own login(), as the admin's form calls it, makes the key without a tag.
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.session.save()
    untagged = request.session.session_key
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    key = request.session.session_key
    assert session_key_hash_tag(untagged) is None
    assert session_key_hash_tag(key) == user_hash_tag(user.pk)
    assert not SessionStore().exists(untagged)


def test_a_session_key_with_a_tag_but_no_session_logs_nobody_in(session, user):
    cookie = _cookie(session)
    forged = cookie[:-6] + ("a" if cookie[-6] != "a" else "b") + cookie[-5:]
    assert session_key_hash_tag(forged) == session_key_hash_tag(cookie)
    assert _replays(forged) == 401
    assert _replays(cookie[:32]) == 401


def test_a_session_key_made_before_tags_still_logs_in(user, password):
    client = ModeClient("session")
    assert client.login(user.username, password).status_code == 200
    store = SessionStore(_cookie(client))
    data = store.load()
    legacy = SessionStore()
    legacy.update(data)
    legacy.create()
    assert session_key_hash_tag(legacy.session_key) is None
    assert _replays(legacy.session_key) == 200
    assert _replays(legacy.session_key) == 200


def test_a_session_deleted_elsewhere_while_its_cache_entry_lingers_ends_without_a_400(session):
    cookie = _cookie(session)
    store = SessionStore(cookie)
    data = store.load()
    # Another instance logged it out: its row went, its cache entry could not (Redis cut off).
    Session.objects.filter(session_key=session_key_stored(cookie)).delete()
    # Seen long enough ago that the next request writes the session again (its idle clock).
    data[SEEN_SESSION_KEY] -= int(dualauth_settings.TOUCH_INTERVAL.total_seconds()) + 1
    caches["default"].set(store.cache_key, data, timeout=60)
    assert session.request("get", "/api/session/profile/").status_code != 400
    assert not Session.objects.filter(session_key=session_key_stored(cookie)).exists()
    assert _replays(cookie) == 401
