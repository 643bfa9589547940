"""Writes shared by every mode: the health probe, the profile, a new user."""

import logging

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction

from common.cache import cache_probe
from common.models import Profile
from common.principal import Principal, UserId, UserModel, principal_from_user
from common.selectors import user_get

logger = logging.getLogger("dualauth")


def health_check() -> dict[str, str]:
    """The state of each dependency: "ok", or "unavailable"; each probe fails fast.

    The cache probe writes and reads a key through the alias that reports failures
    (common/cache.py), bounded by its socket timeouts.
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


def profile_update(
    *, user_id: UserId, display_name: str | None = None, bio: str | None = None
) -> Principal:
    """Change the editable fields of the user's profile; the user's principal afterwards."""
    profile, _ = Profile.objects.get_or_create(user_id=user_id)
    fields = {"display_name": display_name, "bio": bio}
    changed = [name for name, value in fields.items() if value is not None]
    for name in changed:
        setattr(profile, name, fields[name])
    if changed:
        profile.save(update_fields=changed)
    user = user_get(user_id=user_id)
    assert user is not None, "an authenticated user is active"
    return principal_from_user(user)


def user_create(
    *, username: str, password: str | None, email: str = "", display_name: str = ""
) -> UserModel:
    """Create an active user with a profile; `username` is the value of its USERNAME_FIELD.

    A `password` of None gives the user an unusable one (a user who signs in elsewhere).
    """
    model = get_user_model()
    fields = {model.USERNAME_FIELD: username}
    if model.get_email_field_name() != model.USERNAME_FIELD:
        fields[model.get_email_field_name()] = email
    user = model.objects.create_user(**fields, password=password)
    profile_update(user_id=user.pk, display_name=display_name)
    return user
