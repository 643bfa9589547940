"""Who an authenticated request is, on the hot path: plain immutable data, never an ORM object."""

import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError

from common.models import Profile, password_epoch

if TYPE_CHECKING:
    # django-stubs' placeholder, which its mypy plugin refines to AUTH_USER_MODEL.
    from django.contrib.auth.models import _User as UserModel
else:
    UserModel = AbstractBaseUser

# A user's primary key as the user model's field gives it: an int, a UUID, or a string.
UserId = Any
MAX_INTEGER_KEY = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Principal:
    """The user of a request, as one cache read knows it (in the spirit of simplejwt's TokenUser).

    Reads serve it as it is; a write loads the real user from the database.
    """

    pk: UserId
    username: str
    email: str
    display_name: str
    bio: str
    date_joined: datetime | None
    password_epoch: str
    session_hash: str
    is_active: bool = True

    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    @property
    def id(self) -> UserId:
        """The user's primary key, under Django's usual name."""
        return self.pk

    def get_username(self) -> str:
        """The value of the user model's USERNAME_FIELD."""
        return self.username

    def get_session_auth_hash(self) -> str:
        """The real user's session hash, which Django's sessions are checked against."""
        return self.session_hash


PRINCIPAL_FIELDS = frozenset(field.name for field in fields(Principal))


def user_email(user: UserModel) -> str:
    """The user's email address, whichever field the user model keeps it in; "" if none."""
    return getattr(user, user.get_email_field_name(), "") or ""


def principal_from_user(user: UserModel) -> Principal:
    """The principal of a user loaded from the database, with its profile."""
    profile = _profile(user)
    return Principal(
        pk=user.pk,
        username=user.get_username(),
        email=user_email(user),
        display_name=profile.display_name if profile else "",
        bio=profile.bio if profile else "",
        date_joined=getattr(user, "date_joined", None),
        password_epoch=password_epoch(user.password),
        session_hash=user.get_session_auth_hash(),
        is_active=bool(user.is_active),
    )


def _profile(user: UserModel) -> Profile | None:
    try:
        # Loaded with the user by `user_get()`; else one query.
        return user.profile
    except Profile.DoesNotExist:
        return None


def principal_snapshot(principal: Principal) -> dict[str, Any]:
    """The principal as the cache keeps it, stamped with when it was read from the database."""
    return {**asdict(principal), "filled_at": time.time()}


def principal_from_snapshot(snapshot: Any, *, max_age: float) -> Principal | None:
    """The principal a cached snapshot holds, or None when it is absent, stale or of another shape.

    Signals drop a snapshot whenever its user or profile is saved; a change that bypasses
    them (`QuerySet.update()`) is seen once the snapshot is `max_age` old, by this process's
    clock, whatever the cache's own expiry does.
    """
    if not isinstance(snapshot, dict) or set(snapshot) != PRINCIPAL_FIELDS | {"filled_at"}:
        return None
    age = time.time() - float(snapshot["filled_at"])
    if not 0 <= age < max_age:
        return None
    return Principal(**{name: snapshot[name] for name in PRINCIPAL_FIELDS})


def user_id_parse(value: Any) -> UserId | None:
    """The primary key `value` (a token's `sub`, a session's user) names, or None.

    Only the canonical text of a key counts (no padding, no leading zeros, no other
    spelling of a UUID), and an integer key must fit a positive 64-bit column.
    """
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    try:
        user_id = get_user_model()._meta.pk.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return None
    if str(user_id) != str(value):
        return None
    if isinstance(user_id, int) and not 0 < user_id <= MAX_INTEGER_KEY:
        return None
    return user_id
