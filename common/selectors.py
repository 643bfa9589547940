"""Reads: live login families, users, health."""

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from common.cache import (
    cache_add,
    cache_get,
    cache_get_many,
    cache_probe,
    cache_set,
)
from common.conf import dualauth_settings
from common.models import CachedUser, LoginFamily, Profile, password_epoch

REVOKED = "revoked"
logger = logging.getLogger("dualauth")


def family_cache_key(family_id: uuid.UUID | str) -> str:
    """The cache key holding a family's state."""
    return f"family:{uuid.UUID(str(family_id)).hex}"


FAMILY_STATE_FIELDS = ("user_id", "expires_at", "password_epoch")


@dataclass(frozen=True)
class FamilyState:
    """What the hot path needs to know of a live family."""

    user_id: int
    expires_at: float
    password_epoch: str


def _family_uuid(family_id: uuid.UUID | str) -> uuid.UUID | None:
    """The family id as a UUID, or None for anything that is not one."""
    try:
        return uuid.UUID(str(family_id))
    except ValueError:
        return None


def user_cache_key(user_id: int) -> str:
    """The cache key holding a user's read-only snapshot."""
    return f"user:{int(user_id)}"


USER_FIELDS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "is_staff",
    "is_superuser",
    "date_joined",
    "last_login",
)


def _family_load(family_id: uuid.UUID) -> tuple[int, float, str] | None:
    row = (
        LoginFamily.objects.filter(pk=family_id, revoked_at__isnull=True)
        .values_list("user_id", "expires_at", "password_epoch")
        .first()
    )
    if row is None:
        return None
    cached = (row[0], row[1].timestamp(), row[2])
    cache_add(
        family_cache_key(family_id),
        cached,
        timeout=dualauth_settings.FAMILY_CACHE_TTL.total_seconds(),
    )
    return cached


def _family_state(family_id: uuid.UUID, cached: Any) -> FamilyState | None:
    """The live state behind a cache value, reading the database on a miss."""
    if cached == REVOKED:
        return None
    if not isinstance(cached, tuple | list) or len(cached) != len(FAMILY_STATE_FIELDS):
        cached = _family_load(family_id)
        if cached is None:
            return None
    state = FamilyState(*cached)
    return state if state.expires_at > time.time() else None


def _user_snapshot(user: User) -> dict[str, Any]:
    profile = getattr(user, "profile", None)
    return {
        "id": user.pk,
        **{field: getattr(user, field) for field in USER_FIELDS},
        "display_name": profile.display_name if profile else "",
        "bio": profile.bio if profile else "",
        "session_hash": user.get_session_auth_hash(),
        "password_epoch": password_epoch(user.password),
        "filled_at": time.time(),
    }


def _snapshot_fresh(snapshot: dict[str, Any]) -> bool:
    """Whether a cached snapshot may still vouch for its user.

    Signals drop a snapshot whenever its user or profile is saved; a change that
    bypasses them (`QuerySet.update()`) is seen once the snapshot is this old, by
    this process's clock, whatever the cache's own expiry does.
    """
    if "filled_at" not in snapshot:
        return False
    age = time.time() - float(snapshot["filled_at"])
    return 0 <= age < dualauth_settings.FAMILY_CACHE_TTL.total_seconds()


def _user_from_snapshot(snapshot: dict[str, Any]) -> CachedUser:
    user = CachedUser(
        id=snapshot["id"], is_active=True, **{field: snapshot[field] for field in USER_FIELDS}
    )
    user.session_hash = snapshot["session_hash"]
    user._state.adding = False
    user.profile = Profile(
        user_id=user.pk, display_name=snapshot["display_name"], bio=snapshot["bio"]
    )
    return user


def family_state_get(*, family_id: uuid.UUID | str) -> FamilyState | None:
    """The state of a live family, or None once it is revoked, expired or gone.

    Read from the cache; on a miss (or with the cache down) from the database.
    A revocation overwrites the cache entry, and a fill never overwrites one
    (`add`), so a fill racing a revocation cannot bring the family back.
    """
    family = _family_uuid(family_id)
    if family is None:
        return None
    return _family_state(family, cache_get(family_cache_key(family)))


def login_get(
    *, family_id: uuid.UUID | str, user_id: int, prefetched: dict[str, Any] | None = None
) -> tuple[FamilyState, User] | None:
    """A live family of an active user, and that user with its profile; else None.

    Both come from one cache round trip in the steady state, with no SQL (or from
    `prefetched`, when the caller fetched them along with something else); each
    falls back to the database on a miss or with the cache down.
    """
    family = _family_uuid(family_id)
    if family is None:
        return None
    family_key, user_key = family_cache_key(family), user_cache_key(user_id)
    values = prefetched if prefetched is not None else cache_get_many([family_key, user_key]) or {}
    state = _family_state(family, values.get(family_key))
    if state is None or state.user_id != user_id:
        return None
    snapshot: dict[str, Any] | None = values.get(user_key)
    if snapshot is None or not _snapshot_fresh(snapshot):
        user = user_get(user_id=user_id)
        if user is None:
            return None
        snapshot = _user_snapshot(user)
        cache_set(user_key, snapshot, dualauth_settings.FAMILY_CACHE_TTL.total_seconds())
    # A login begun under another password is over, however the password changed.
    if snapshot["password_epoch"] != state.password_epoch:
        return None
    return state, _user_from_snapshot(snapshot)


def families_live(*, user_id: int, modes: tuple[str, ...]) -> QuerySet[LoginFamily]:
    """The user's live families in `modes`, newest first."""
    return LoginFamily.objects.filter(
        user_id=user_id, mode__in=modes, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at")


def user_get(*, user_id: int) -> User | None:
    """The active user `user_id` with its profile, or None."""
    return User.objects.select_related("profile").filter(pk=user_id, is_active=True).first()


def health_get() -> dict[str, str]:
    """The state of each dependency: "ok", or "unavailable"; each probe fails fast.

    The cache probe goes through the alias that reports failures (common/cache.py),
    bounded by its socket timeouts.
    """
    checks: dict[str, str] = {}
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # A server too busy to answer within 2 s fails the probe instead of holding it.
                cursor.execute("SET LOCAL statement_timeout = '2s'")
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as e:
        logger.warning("health: database unavailable: %s", e)
        checks["database"] = "unavailable"
    checks["cache"] = "ok" if cache_probe() else "unavailable"
    return checks
