"""Fixtures of the session mode's tests."""

from collections.abc import Callable

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User

from session_auth.sessions import SessionStore


@pytest.fixture
def familyless_session() -> Callable[[User], str]:
    """Make a Django session logged in as a user without `login()`: a session of no family."""

    def make(user: User) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()
        assert store.session_key is not None
        return store.session_key

    return make
