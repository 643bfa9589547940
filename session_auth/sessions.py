"""The session store: Django's cached_db, keeping only a keyed hash of each session key.

The `sessionid` cookie is the credential. Django stores it as is, as the database
row's key and in the cache key, so a backup of either logs in. This store hashes
the key (HMAC-SHA256 under SECRET_KEY) before it reaches the database or the
cache, and keeps the cookie alone able to name a session. Changing SECRET_KEY
therefore ends every session, as it should.
"""

from typing import Any

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbStore
from django.contrib.sessions.backends.db import SessionStore as DbStore
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.cache.backends.base import BaseCache
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

# Django's session_key column holds 40 characters: 160 bits of the hash.
STORED_KEY_LENGTH = 40


def session_key_stored(session_key: str) -> str:
    """What the database and the cache hold for `session_key`: a keyed hash, never the key."""
    digest = salted_hmac("dualauth.session-key", session_key, algorithm="sha256").hexdigest()
    return digest[:STORED_KEY_LENGTH]


class SessionStore(CachedDbStore):
    """Django's cached_db sessions, stored under the hash of their key."""

    _cache: BaseCache

    @property
    def cache_key(self) -> str:
        """The cache key of this session: the prefix and the stored key."""
        return self._stored_cache_key(super().cache_key)

    async def acache_key(self) -> str:
        """The cache key of this session: the prefix and the stored key."""
        return self._stored_cache_key(await super().acache_key())

    def _stored_cache_key(self, cache_key: str) -> str:
        raw = cache_key.removeprefix(self.cache_key_prefix)
        return self.cache_key_prefix + session_key_stored(raw)

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
        stored = session_key_stored(session_key)
        return self.cache_key_prefix + stored in self._cache or DbStore.exists(self, stored)

    async def aexists(self, session_key: str) -> bool:
        """Whether a session is stored under `session_key`, in the cache or the database."""
        stored = session_key_stored(session_key)
        return await self._cache.ahas_key(self.cache_key_prefix + stored) or await DbStore.aexists(
            self, stored
        )

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
        stored = session_key_stored(session_key)
        self.model.objects.filter(session_key=stored).delete()
        self._cache.delete(self.cache_key_prefix + stored)

    async def adelete(self, session_key: str | None = None) -> None:
        """Delete the session `session_key` (else this one) from the database and the cache."""
        session_key = session_key or self.session_key
        if session_key is None:
            return
        stored = session_key_stored(session_key)
        await self.model.objects.filter(session_key=stored).adelete()
        await self._cache.adelete(self.cache_key_prefix + stored)
