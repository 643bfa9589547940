"""Reads: login families and users, from the cache or the database; nothing here writes."""

import hashlib
import time
import uuid
from dataclasses import astuple, dataclass, fields
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from common.cache import cache_get_many
from common.models import LoginFamily
from common.principal import UserId, UserModel

REVOKED = "revoked"
# What the keys of the hot path's entries start with: each process mirrors them under `push`.
FAMILY_KEY_PREFIX = "family:"
USER_KEY_PREFIX = "user:"


@dataclass(frozen=True)
class FamilyState:
    """What the hot path needs to know of a live family."""

    user_id: UserId
    expires_at: float
    password_epoch: str
    authenticated_at: float
    # How the user last proved who they are (`LoginFamily.amr`).
    amr: str = ""

    def as_cached(self) -> tuple[Any, ...]:
        """The state as the cache keeps it: its fields, in order."""
        return astuple(self)


def user_hash_tag(user_id: UserId) -> str:
    """The hash tag of every cache entry of a user's logins: 16 bits of a hash of the user id.

    Redis Cluster places a key by the text between its first braces, so the entries one
    request reads (the family, the user, the session) share one slot and one MGET.
    """
    return hashlib.blake2s(str(user_id).encode(), digest_size=2).hexdigest()


def family_cache_key(family_id: uuid.UUID | str, user_id: UserId) -> str:
    """The cache key holding the state of a family of `user_id`."""
    return _family_key(user_hash_tag(user_id), uuid.UUID(str(family_id)))


def user_cache_key(user_id: UserId) -> str:
    """The cache key holding a user's principal."""
    return _user_key(user_hash_tag(user_id), user_id)


def _family_key(hash_tag: str, family_id: uuid.UUID) -> str:
    return f"{FAMILY_KEY_PREFIX}{{{hash_tag}}}:{family_id.hex}"


def _user_key(hash_tag: str, user_id: UserId) -> str:
    return f"{USER_KEY_PREFIX}{{{hash_tag}}}:{user_id}"


def family_uuid(family_id: uuid.UUID | str) -> uuid.UUID | None:
    """The family id as a UUID, or None for anything that is not one."""
    if isinstance(family_id, uuid.UUID):
        return family_id
    try:
        return uuid.UUID(str(family_id))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class LoginClaim:
    """The login a credential names, parsed once per request, with its cache keys.

    Made once and handed down the hot path, so that nothing on it parses the family id,
    hashes the user id or formats a key again.
    """

    family_id: uuid.UUID
    user_id: UserId
    hash_tag: str
    family_key: str
    user_key: str


def login_claim(*, family_id: uuid.UUID | str, user_id: UserId) -> LoginClaim | None:
    """The claim to the family `family_id` of the (parsed) user `user_id`; None for a bad id."""
    family = family_uuid(family_id)
    if family is None:
        return None
    tag = user_hash_tag(user_id)
    return LoginClaim(
        family_id=family,
        user_id=user_id,
        hash_tag=tag,
        family_key=_family_key(tag, family),
        user_key=_user_key(tag, user_id),
    )


def login_cache_get(*, claim: LoginClaim, extra_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The cache entries of a login (its family, its user, and `extra_keys`), in one round trip.

    `extra_keys` carry the claim's `hash_tag`, as a cluster reads one slot at a time.
    Empty when the cache cannot answer: every entry then reads as a miss.
    """
    return cache_get_many([claim.family_key, claim.user_key, *extra_keys]) or {}


def family_state_from_cache(value: Any) -> FamilyState | None:
    """The state a cache value holds, or None when it holds none (a miss, or `REVOKED`)."""
    if not isinstance(value, tuple | list) or len(value) != len(fields(FamilyState)):
        return None
    return FamilyState(*value)


def family_state_get(*, family_id: uuid.UUID) -> FamilyState | None:
    """The state of a family from the database, or None when it is revoked or gone."""
    row = (
        LoginFamily.objects.filter(pk=family_id, revoked_at__isnull=True)
        .values_list("user_id", "expires_at", "password_epoch", "authenticated_at", "amr")
        .first()
    )
    if row is None:
        return None
    return FamilyState(
        user_id=row[0],
        expires_at=row[1].timestamp(),
        password_epoch=row[2],
        authenticated_at=row[3].timestamp(),
        amr=row[4],
    )


def family_state_live(state: FamilyState | None, *, user_id: UserId) -> bool:
    """Whether `state` is a live, unexpired family of `user_id`."""
    return state is not None and state.user_id == user_id and state.expires_at > time.time()


def families_live(*, user_id: UserId, modes: tuple[str, ...]) -> QuerySet[LoginFamily]:
    """The user's live families in `modes`, newest first."""
    return LoginFamily.objects.filter(
        user_id=user_id, mode__in=modes, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at")


def user_get(*, user_id: UserId) -> UserModel | None:
    """The active user `user_id` with its profile, or None."""
    return (
        get_user_model()
        .objects.select_related("profile")
        .filter(pk=user_id, is_active=True)
        .first()
    )


def user_get_by_login(*, login: str) -> UserModel | None:
    """The user whose login name (the user model's USERNAME_FIELD) is `login`, or None."""
    model = get_user_model()
    return model.objects.filter(**{model.USERNAME_FIELD: login}).first()
