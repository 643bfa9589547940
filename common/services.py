"""Writes shared by every mode: families, failed-login throttling, profile, password."""

import hashlib
import math
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.cache import caches
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import Throttled, ValidationError

from common.audit import audit_event
from common.cache import ALIAS as CACHE_ALIAS
from common.cache import cache_add, cache_get_many, cache_incr, cache_set_many
from common.conf import dualauth_settings
from common.exceptions import InvalidCredentials
from common.models import LoginFamily, Profile
from common.net import client_ip
from common.selectors import REVOKED, family_cache_key


def family_create(
    *,
    user: User,
    request: HttpRequest,
    mode: str,
    lifetime: timedelta,
    refresh_jti: str = "",
) -> LoginFamily:
    """Record a new login of `user` in `mode`."""
    now = timezone.now()
    family = LoginFamily.objects.create(
        user_id=user.pk,
        mode=mode,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:256],
        ip=client_ip(request) or None,
        refresh_jti=refresh_jti,
        refresh_issued_at=now if refresh_jti else None,
    )
    audit_event("login", request=request, user_id=user.pk, family_id=family.pk, mode=mode)
    return family


def families_revoke(
    *,
    user_id: int,
    reason: str,
    family_ids: Iterable[uuid.UUID | str] | None = None,
    keep: uuid.UUID | str | None = None,
    request: HttpRequest | None = None,
) -> int:
    """Revoke the user's live families (`family_ids`, else all but `keep`); return how many.

    The database is the truth; the cache is overwritten so that every instance
    refuses the family on its very next request.
    """
    families = LoginFamily.objects.filter(user_id=user_id, revoked_at__isnull=True)
    if family_ids is not None:
        families = families.filter(pk__in=list(family_ids))
    if keep is not None:
        families = families.exclude(pk=keep)
    rows = list(families.values_list("pk", "expires_at"))
    if not rows:
        return 0
    now = timezone.now()
    LoginFamily.objects.filter(pk__in=[pk for pk, _ in rows]).update(
        revoked_at=now, revoke_reason=reason
    )
    cache_set_many(*_revoked_entries(rows, now))
    for pk, _ in rows:
        audit_event("revoke", request=request, user_id=user_id, family_id=pk, reason=reason)
    return len(rows)


def _revoked_entries(
    rows: list[tuple[uuid.UUID, datetime]], now: datetime
) -> tuple[dict[str, str], float]:
    """Cache entries marking `rows` revoked, and a timeout outliving the longest of them."""
    longest = max(expires_at for _, expires_at in rows) - now
    return {family_cache_key(pk): REVOKED for pk, _ in rows}, max(
        1, math.ceil(longest.total_seconds())
    )


def families_revoked_recache(since: float) -> None:
    """Write again to the cache every live-until-expiry family revoked since `since` (epoch)."""
    now = timezone.now()
    rows = list(
        LoginFamily.objects.filter(
            revoked_at__gte=datetime.fromtimestamp(since, tz=UTC), expires_at__gt=now
        ).values_list("pk", "expires_at")
    )
    if rows:
        values, timeout = _revoked_entries(rows, now)
        # Not cache_set_many: a failure here must reach the recovery, which tries again.
        caches[CACHE_ALIAS].set_many(values, timeout=timeout)


def family_revoke(
    *, family_id: uuid.UUID | str, user_id: int, reason: str, request: HttpRequest | None = None
) -> bool:
    """Revoke one family of `user_id`; False when it was not live."""
    return bool(
        families_revoke(user_id=user_id, family_ids=[family_id], reason=reason, request=request)
    )


def _throttle_key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"login-failures:{kind}:{digest}"


def _throttle_buckets(*, username: str, ip: str) -> list[tuple[str, int]]:
    return [
        (_throttle_key("user", username.casefold()), dualauth_settings.LOGIN_FAILURES_PER_USERNAME),
        (_throttle_key("ip", ip), dualauth_settings.LOGIN_FAILURES_PER_ADDRESS),
    ]


def login_throttle_check(*, username: str, request: HttpRequest) -> None:
    """Raise 429 while the username or the client address is over its failure limit."""
    buckets = _throttle_buckets(username=username, ip=client_ip(request))
    window = dualauth_settings.LOGIN_FAILURE_WINDOW.total_seconds()
    # With the cache down the throttle fails open: logins must keep working.
    values = cache_get_many([f"{key}:{part}" for key, _ in buckets for part in ("n", "t")]) or {}
    waits = [
        values.get(f"{key}:t", time.time()) + window - time.time()
        for key, limit in buckets
        if values.get(f"{key}:n", 0) >= limit
    ]
    if waits:
        audit_event("login_throttled", request=request, username=username)
        raise Throttled(wait=max(1, math.ceil(max(waits))))


def login_failure_record(*, username: str, request: HttpRequest) -> None:
    """Count one failed login against the username and the client address."""
    window = math.ceil(dualauth_settings.LOGIN_FAILURE_WINDOW.total_seconds())
    for key, _ in _throttle_buckets(username=username, ip=client_ip(request)):
        cache_add(f"{key}:t", time.time(), timeout=window)
        cache_incr(f"{key}:n", timeout=window)


def login_credentials_check(*, username: str, password: str, request: HttpRequest) -> User:
    """The user these credentials name, or 401 `invalid_credentials`, or 429 while throttled.

    Unknown user, wrong password, inactive user and unusable password all take
    one password hash and give the same answer (Django's ModelBackend).
    """
    login_throttle_check(username=username, request=request)
    user = authenticate(request, username=username, password=password)
    if not isinstance(user, User):
        login_failure_record(username=username, request=request)
        audit_event("login_failed", request=request, username=username)
        raise InvalidCredentials()
    return user


def profile_update(
    *, user: User, display_name: str | None = None, bio: str | None = None
) -> Profile:
    """Change the editable fields of the user's profile."""
    profile, _ = Profile.objects.get_or_create(user_id=user.pk)
    fields = {"display_name": display_name, "bio": bio}
    changed = [name for name, value in fields.items() if value is not None]
    for name in changed:
        setattr(profile, name, fields[name])
    if changed:
        profile.save(update_fields=changed)
    return profile


def password_change(
    *,
    user: User,
    old_password: str,
    new_password: str,
    keep_family_id: uuid.UUID | str | None,
    request: HttpRequest,
) -> User:
    """Set a new password and revoke every other login of the user; return the saved user."""
    user = User.objects.get(pk=user.pk)
    username = user.get_username()
    login_throttle_check(username=username, request=request)
    if not user.check_password(old_password):
        login_failure_record(username=username, request=request)
        raise ValidationError({"old_password": ["The current password is not correct."]})
    try:
        validate_password(new_password, user)
    except DjangoValidationError as e:
        raise ValidationError({"new_password": list(e.messages)}) from e
    user.set_password(new_password)
    user.save(update_fields=["password"])
    audit_event("password_change", request=request, user_id=user.pk, family_id=keep_family_id)
    families_revoke(user_id=user.pk, keep=keep_family_id, reason="password_change", request=request)
    return user


def user_create(*, username: str, password: str, email: str = "", display_name: str = "") -> User:
    """Create an active user with a profile."""
    user = User.objects.create_user(username=username, email=email, password=password)
    profile_update(user=user, display_name=display_name)
    return user
