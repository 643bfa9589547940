"""Reads: live login families, users, health."""

import time
import uuid
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.models import QuerySet
from django.utils import timezone

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
    cached = cache.get(key)
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
        cache.add(key, cached, timeout=dualauth_settings.FAMILY_CACHE_TTL.total_seconds())
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
    """The state of each dependency: "ok", or what failed."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError:
        checks["database"] = "unavailable"
    probe = f"health:{uuid.uuid4().hex}"
    try:
        cache.set(probe, "ok", timeout=5)
        checks["cache"] = "ok" if cache.get(probe) == "ok" else "unavailable"
        cache.delete(probe)
    except Exception:  # a cache backend may raise anything on an outage
        checks["cache"] = "unavailable"
    return checks
