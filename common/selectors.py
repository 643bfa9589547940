"""Reads: live login families, users, health."""

import time
import uuid
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from common.cache import cache_add, cache_flush_unwritten, cache_get, cache_probe
from common.conf import dualauth_settings
from common.models import LoginFamily

REVOKED = "revoked"


def family_cache_key(family_id: uuid.UUID | str) -> str:
    """The cache key holding a family's state."""
    return f"family:{uuid.UUID(str(family_id)).hex}"


@dataclass(frozen=True)
class FamilyState:
    """What the hot path needs to know of a live family."""

    user_id: int
    expires_at: float


def family_state_get(*, family_id: uuid.UUID | str) -> FamilyState | None:
    """The state of a live family, or None once it is revoked, expired or gone.

    Read from the cache; on a miss (or with the cache down) from the database.
    A revocation overwrites the cache entry, and a fill never overwrites one
    (`add`), so a fill racing a revocation cannot bring the family back.
    """
    try:
        key = family_cache_key(family_id)
    except ValueError:
        return None
    cache_flush_unwritten()
    cached = cache_get(key)
    if cached == REVOKED:
        return None
    if cached is None:
        row = (
            LoginFamily.objects.filter(pk=key.split(":")[1], revoked_at__isnull=True)
            .values_list("user_id", "expires_at")
            .first()
        )
        if row is None:
            return None
        cached = (row[0], row[1].timestamp())
        cache_add(key, cached, timeout=dualauth_settings.FAMILY_CACHE_TTL.total_seconds())
    state = FamilyState(user_id=int(cached[0]), expires_at=float(cached[1]))
    return state if state.expires_at > time.time() else None


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
    except DatabaseError:
        checks["database"] = "unavailable"
    checks["cache"] = "ok" if cache_probe() else "unavailable"
    return checks
