"""The session store: Django's cached_db, keeping only a keyed hash of each session key.

The `sessionid` cookie is the credential. Django stores it as is, as the database
row's key and in the cache key, so a backup of either logs in. This store hashes
the key (HMAC-SHA256 under SECRET_KEY) before it reaches the database or the
cache, and keeps the cookie alone able to name a session. Changing SECRET_KEY
therefore ends every session, as it should.
"""

import re
from typing import Any

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, UpdateError
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbStore
from django.contrib.sessions.backends.db import SessionStore as DbStore
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.cache.backends.base import BaseCache
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import get_random_string, salted_hmac

# Django's session_key column holds 40 characters: 160 bits of the hash.
STORED_KEY_LENGTH = 40
# Django's own length and alphabet for the random part of a key: 165 bits.
RANDOM_KEY_LENGTH = 32
TAG_SEPARATOR = "-"
# A key made for a login: Django's random part, the separator, the user's hash tag.
TAGGED_KEY = re.compile(rf"[a-z0-9]{{{RANDOM_KEY_LENGTH}}}{TAG_SEPARATOR}([0-9a-f]{{4}})")


def session_key_stored(session_key: str) -> str:
    """What the database and the cache hold for `session_key`: a keyed hash, never the key."""
    digest = salted_hmac("dualauth.session-key", session_key, algorithm="sha256").hexdigest()
    return digest[:STORED_KEY_LENGTH]


def session_key_hash_tag(session_key: str | None) -> str | None:
    """The hash tag a session key ends in, or None for a key made without one."""
    found = TAGGED_KEY.fullmatch(session_key or "")
    return found[1] if found else None


class SessionStore(CachedDbStore):
    """Django's cached_db sessions, stored under the hash of their key."""

    _cache: BaseCache
    # The hash tag the next key made for this session ends in: its user's, at a login.
    new_key_hash_tag: str | None = None
    # The last session key whose hash tag and cache key were worked out, and them: a
    # request reads them several times, and the cache key costs an HMAC.
    _last_stored: tuple[str, str | None, str] | None = None

    def _get_new_session_key(self) -> str:
        """A new, unused key: Django's, followed by this session's hash tag if it has one."""
        suffix = f"{TAG_SEPARATOR}{self.new_key_hash_tag}" if self.new_key_hash_tag else ""
        while True:
            key = get_random_string(RANDOM_KEY_LENGTH, VALID_KEY_CHARS) + suffix
            if not self.exists(key):
                return key

    @property
    def cache_key(self) -> str:
        """The cache key of this session: the prefix, its tag and the stored key."""
        return self._stored_cache_key(super().cache_key)

    async def acache_key(self) -> str:
        """The cache key of this session: the prefix, its tag and the stored key."""
        return self._stored_cache_key(await super().acache_key())

    def _stored_cache_key(self, cache_key: str) -> str:
        return self._cache_key_of(cache_key.removeprefix(self.cache_key_prefix))

    @property
    def hash_tag(self) -> str | None:
        """The hash tag this session's key ends in, or None (no key, or one made without)."""
        return self._stored_of(self.session_key)[0] if self.session_key else None

    def _cache_key_of(self, session_key: str) -> str:
        """The cache key of the session `session_key`, which never holds the key itself."""
        return self._stored_of(session_key)[1]

    def _stored_of(self, session_key: str) -> tuple[str | None, str]:
        """The hash tag and the cache key of `session_key`, worked out once per key and store."""
        last = self._last_stored
        if last is not None and last[0] == session_key:
            return last[1], last[2]
        tag = session_key_hash_tag(session_key)
        hash_tag = f"{{{tag}}}" if tag else ""
        cache_key = self.cache_key_prefix + hash_tag + session_key_stored(session_key)
        self._last_stored = (session_key, tag, cache_key)
        return tag, cache_key

    def _stored_row(self) -> QuerySet[AbstractBaseSession]:
        """This session's unexpired row, found by the stored form of its key."""
        return self.model.objects.filter(
            session_key=session_key_stored(self.session_key or ""), expire_date__gt=timezone.now()
        )

    def _get_session_from_db(self) -> AbstractBaseSession | None:
        session = self._stored_row().first() if self.session_key else None
        if session is None:
            self._session_key = None
        return session

    async def _aget_session_from_db(self) -> AbstractBaseSession | None:
        session = await self._stored_row().afirst() if self.session_key else None
        if session is None:
            self._session_key = None
        return session

    def exists(self, session_key: str) -> bool:
        """Whether a session is stored under `session_key`, in the cache or the database."""
        return self._cache_key_of(session_key) in self._cache or DbStore.exists(
            self, session_key_stored(session_key)
        )

    async def aexists(self, session_key: str) -> bool:
        """Whether a session is stored under `session_key`, in the cache or the database."""
        return await self._cache.ahas_key(self._cache_key_of(session_key)) or await DbStore.aexists(
            self, session_key_stored(session_key)
        )

    def save(self, must_create: bool = False) -> None:
        """Save the session; one deleted meanwhile (logged out elsewhere) stays deleted.

        Its cache entry may have outlived it (the logout could not reach the cache): it
        goes too, so that the next request finds no session instead of this one failing.
        """
        try:
            super().save(must_create)
        except UpdateError:
            self._cache.delete(self.cache_key)

    def create_model_instance(self, data: dict[str, Any]) -> AbstractBaseSession:
        """The row to save: the session's data under its stored key."""
        session = super().create_model_instance(data)
        session.session_key = session_key_stored(session.session_key)
        return session

    async def acreate_model_instance(self, data: dict[str, Any]) -> AbstractBaseSession:
        """The row to save: the session's data under its stored key."""
        session = await super().acreate_model_instance(data)
        session.session_key = session_key_stored(session.session_key)
        return session

    def delete(self, session_key: str | None = None) -> None:
        """Delete the session `session_key` (else this one) from the database and the cache."""
        session_key = session_key or self.session_key
        if session_key is None:
            return
        self.model.objects.filter(session_key=session_key_stored(session_key)).delete()
        self._cache.delete(self._cache_key_of(session_key))

    async def adelete(self, session_key: str | None = None) -> None:
        """Delete the session `session_key` (else this one) from the database and the cache."""
        session_key = session_key or self.session_key
        if session_key is None:
            return
        await self.model.objects.filter(session_key=session_key_stored(session_key)).adelete()
        await self._cache.adelete(self._cache_key_of(session_key))
