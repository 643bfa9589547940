"""Writes shared by every mode: the hot path's cache, families, throttling, profile, password."""

import hashlib
import logging
import math
import secrets
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.cache import caches
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.exceptions import Throttled, ValidationError

from common.accounts.selectors import email_verified
from common.audit import audit_event
from common.cache import ALIAS as CACHE_ALIAS
from common.cache import (
    cache_add,
    cache_count,
    cache_delete,
    cache_get_many,
    cache_identity,
    cache_probe,
    cache_set,
    cache_set_many,
)
from common.changes import PASSWORD_CHANGED, signin_change_announce
from common.conf import dualauth_settings
from common.exceptions import EmailNotVerified, InvalidCredentials
from common.memo import BoundedMemo
from common.metrics import throttled_count
from common.models import LoginFamily, Profile, password_epoch
from common.net import client_ip
from common.principal import (
    Principal,
    UserId,
    UserModel,
    principal_from_snapshot,
    principal_from_user,
    principal_snapshot,
)
from common.routes import Mode
from common.selectors import (
    REVOKED,
    FamilyState,
    family_cache_key,
    family_state_from_cache,
    family_state_get,
    family_state_live,
    family_uuid,
    login_cache_get,
    user_cache_key,
    user_get,
    user_get_by_login,
)

DEVICE_TOKEN_SALT = "dualauth.login-device"
logger = logging.getLogger("dualauth")
# When this process last wrote each family's `last_seen_at`: at most once a TOUCH_INTERVAL.
_seen: BoundedMemo[uuid.UUID, float] = BoundedMemo(4096)


def login_authenticate(
    *, family_id: uuid.UUID | str, user_id: UserId, prefetched: dict[str, Any] | None = None
) -> tuple[FamilyState, Principal] | None:
    """A live family of an active user, and that user's principal; else None.

    Both come from one cache round trip in the steady state, with no SQL (or from
    `prefetched`, when the caller fetched them along with something else). A miss, or
    the cache down, reads the database and fills the cache: a family's state only if
    nothing is cached for it (`add`), so that a fill racing a revocation cannot bring
    the family back. A login begun under another password than the user's is over.
    """
    family = family_uuid(family_id)
    if family is None:
        return None
    values = (
        prefetched if prefetched is not None else login_cache_get(family_id=family, user_id=user_id)
    )
    ttl = dualauth_settings.FAMILY_CACHE_TTL.total_seconds()
    key = family_cache_key(family, user_id)
    cached = values.get(key)
    state = family_state_from_cache(cached)
    if state is None and cached != REVOKED:
        state = family_state_get(family_id=family)
        if state is not None:
            cache_add(key, state.as_cached(), timeout=ttl)
    if state is None or not family_state_live(state, user_id=user_id):
        return None
    principal = principal_from_snapshot(values.get(user_cache_key(user_id)), max_age=ttl)
    if principal is None:
        user = user_get(user_id=user_id)
        if user is None:
            return None
        principal = principal_from_user(user)
        cache_set(user_cache_key(user_id), principal_snapshot(principal), ttl)
    if principal.password_epoch != state.password_epoch:
        return None
    return state, principal


def family_seen(*, family_id: uuid.UUID) -> None:
    """Record that a login was just used: `last_seen_at`, written at most once a TOUCH_INTERVAL."""
    now = time.time()
    last = _seen.get(family_id)
    if last is not None and now - last < dualauth_settings.TOUCH_INTERVAL.total_seconds():
        return
    _seen.put(family_id, now)
    LoginFamily.objects.filter(pk=family_id).update(last_seen_at=timezone.now())


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


def family_create(
    *,
    user: UserModel,
    request: HttpRequest,
    mode: Mode,
    lifetime: timedelta,
    refresh_jti: str = "",
) -> LoginFamily:
    """Record a new login of `user` in `mode`, under the user's current password."""
    now = timezone.now()
    family = LoginFamily.objects.create(
        user_id=user.pk,
        mode=mode,
        created_at=now,
        last_seen_at=now,
        authenticated_at=now,
        expires_at=now + lifetime,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:256],
        ip=client_ip(request) or None,
        refresh_jti=refresh_jti,
        refresh_issued_at=now if refresh_jti else None,
        password_epoch=password_epoch(user.password),
    )
    audit_event("login", request=request, user_id=user.pk, family_id=family.pk, mode=mode)
    return family


def families_revoke(
    *,
    user_id: UserId,
    reason: str,
    family_ids: Iterable[uuid.UUID | str] | None = None,
    keep: uuid.UUID | str | None = None,
    modes: Iterable[str] | None = None,
    request: HttpRequest | None = None,
) -> int:
    """Revoke the user's live families (`family_ids`, else all but `keep`); return how many.

    `modes` narrows them to those modes. The database is the truth; the cache is
    overwritten so that every instance refuses the family on its very next request. A
    revocation stays pending in the database until the cache has taken it: if this
    process cannot write it, any process that can will (`families_pending_recache`).
    """
    families = LoginFamily.objects.filter(user_id=user_id, revoked_at__isnull=True)
    if family_ids is not None:
        families = families.filter(pk__in=list(family_ids))
    if keep is not None:
        families = families.exclude(pk=keep)
    if modes is not None:
        families = families.filter(mode__in=list(modes))
    rows = list(families.values_list("pk", "user_id", "expires_at"))
    if not rows:
        return 0
    now = timezone.now()
    revoked = LoginFamily.objects.filter(pk__in=[pk for pk, _, _ in rows])
    revoked.update(revoked_at=now, revoke_reason=reason, cache_pending=cache_identity())
    if cache_set_many(_revoked_entries(rows), _revoked_timeout(rows, now)):
        revoked.update(cache_pending="")
    for pk, _, _ in rows:
        audit_event("revoke", request=request, user_id=user_id, family_id=pk, reason=reason)
    return len(rows)


# A revoked family as the revocation reads it: its id, its user, when it would have expired.
RevokedRow = tuple[uuid.UUID, UserId, datetime]


def _revoked_entries(rows: list[RevokedRow]) -> dict[str, str]:
    """Cache entries marking `rows` revoked."""
    return {family_cache_key(pk, user_id): REVOKED for pk, user_id, _ in rows}


def _revoked_timeout(rows: list[RevokedRow], now: datetime) -> float:
    """A cache timeout outliving the longest-lived of `rows`."""
    longest = max(expires_at for _, _, expires_at in rows) - now
    return max(1, math.ceil(longest.total_seconds()))


def families_revoked_recache(since: float) -> None:
    """Write again to the cache every live-until-expiry family revoked since `since` (epoch)."""
    _revoked_recache(
        LoginFamily.objects.filter(revoked_at__gte=datetime.fromtimestamp(since, tz=UTC))
    )


def families_pending_recache() -> None:
    """Write to the cache the revocations still pending there, whoever made them."""
    _revoked_recache(LoginFamily.objects.filter(cache_pending=cache_identity()))


def _revoked_recache(families: QuerySet[LoginFamily]) -> None:
    """Mark `families` revoked in the cache (those not yet expired); none is pending after."""
    now = timezone.now()
    rows = list(families.values_list("pk", "user_id", "expires_at"))
    live = [row for row in rows if row[2] > now]
    if live:
        # Not cache_set_many: a failure here must reach the recovery, which tries again.
        caches[CACHE_ALIAS].set_many(_revoked_entries(live), timeout=_revoked_timeout(live, now))
    pending = [pk for pk, _, _ in rows]
    if pending:
        LoginFamily.objects.filter(pk__in=pending, cache_pending=cache_identity()).update(
            cache_pending=""
        )


def family_revoke(
    *,
    family_id: uuid.UUID | str,
    user_id: UserId,
    reason: str,
    modes: Iterable[str] | None = None,
    request: HttpRequest | None = None,
) -> bool:
    """Revoke one family of `user_id` (in one of `modes`, if given); False when none was live."""
    return bool(
        families_revoke(
            user_id=user_id, family_ids=[family_id], modes=modes, reason=reason, request=request
        )
    )


def families_password_revoke(*, user_id: UserId, password: str) -> int:
    """Revoke the user's live logins begun under another password than `password` (its hash)."""
    stale = LoginFamily.objects.filter(user_id=user_id, revoked_at__isnull=True).exclude(
        password_epoch=password_epoch(password)
    )
    return families_revoke(
        user_id=user_id, family_ids=list(stale.values_list("pk", flat=True)), reason="password"
    )


def throttle_key(scope: str, value: str) -> str:
    """The cache key of the throttle bucket of `value` (an address, a name) in `scope`."""
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"{scope}:{digest}"


def _login_throttle_key(kind: str, value: str) -> str:
    return throttle_key(f"login-failures:{kind}", value)


def _user_digest(*, user_id: UserId, username: str) -> str:
    """Names one account: its login name alone would also name whoever takes it next."""
    return hashlib.sha256(f"{user_id}\x00{username.casefold()}".encode()).hexdigest()[:16]


def device_token_issue(*, user: UserModel) -> str:
    """A signed token proving that this device logged in as `user`; no credential."""
    digest = _user_digest(user_id=user.pk, username=user.get_username())
    return signing.dumps({"u": digest, "d": secrets.token_urlsafe(12)}, salt=DEVICE_TOKEN_SALT)


def device_cookie_set(response: HttpResponse, token: str) -> None:
    """Give a browser its device token, HttpOnly, for as long as the token lives."""
    response.set_cookie(
        dualauth_settings.DEVICE_COOKIE_NAME,
        token,
        max_age=int(dualauth_settings.DEVICE_TOKEN_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        secure=dualauth_settings.COOKIE_SECURE,
        samesite=dualauth_settings.COOKIE_SAMESITE,
    )


def _device_id(*, token: str, username: str) -> str | None:
    """The device a valid device token of the account `username` names now, else None."""
    if not token:
        return None
    try:
        claims = signing.loads(
            token,
            salt=DEVICE_TOKEN_SALT,
            max_age=dualauth_settings.DEVICE_TOKEN_LIFETIME.total_seconds(),
        )
    except signing.BadSignature:
        return None
    if not isinstance(claims, dict):
        return None
    user = user_get_by_login(login=username)
    if user is None or claims.get("u") != _user_digest(user_id=user.pk, username=username):
        return None
    return str(claims.get("d", ""))


def _throttle_buckets(
    *, username: str, request: HttpRequest, device_token: str
) -> list[tuple[str, int]]:
    device = _device_id(token=device_token, username=username)
    if device:
        return [
            (_login_throttle_key("device", device), dualauth_settings.LOGIN_FAILURES_PER_DEVICE)
        ]
    return [
        (
            _login_throttle_key("user", username.casefold()),
            dualauth_settings.LOGIN_FAILURES_PER_USERNAME,
        ),
        (
            _login_throttle_key("ip", client_ip(request)),
            dualauth_settings.LOGIN_FAILURES_PER_ADDRESS,
        ),
    ]


def login_attempt_reserve(
    *, username: str, request: HttpRequest, device_token: str = "", mode: Mode | None = None
) -> list[str]:
    """Count an attempt before its password is checked; 429 once a bucket is over its limit.

    Counting first, atomically, means that however many attempts run at once, at
    most the limit of them ever reach a password check. Returns the counters taken,
    for `login_attempt_release` once the password proves right. `mode` is the login's, if any.
    """
    buckets = _throttle_buckets(username=username, request=request, device_token=device_token)
    try:
        return throttle_take(buckets=buckets, window=dualauth_settings.LOGIN_FAILURE_WINDOW)
    except Throttled:
        audit_event("login_throttled", request=request, username=username, mode=mode)
        raise


def login_address_attempt_reserve(*, request: HttpRequest, mode: Mode | None = None) -> list[str]:
    """Count a login attempt in `mode` that names no user (a passkey's) in its client address's
    bucket, the password logins' own; 429 once it is over its limit.
    """
    bucket = (
        _login_throttle_key("ip", client_ip(request)),
        dualauth_settings.LOGIN_FAILURES_PER_ADDRESS,
    )
    try:
        return throttle_take(buckets=[bucket], window=dualauth_settings.LOGIN_FAILURE_WINDOW)
    except Throttled:
        audit_event("login_throttled", request=request, method="passkey", mode=mode)
        raise


def throttle_take(*, buckets: list[tuple[str, int]], window: timedelta) -> list[str]:
    """Count a call in each (key, limit) bucket; 429, counting nothing, once one is over its limit.

    The counts are atomic and shared by every instance. Returns the counters taken,
    for `throttle_release`.
    """
    seconds = window.total_seconds()
    now = time.time()
    # With the cache down nothing is read and every count is 0: the throttle fails open.
    starts = cache_get_many([f"{key}:t" for key, _ in buckets]) or {}
    counters, waits, over = [], [], []
    for key, limit in buckets:
        start = _window_start(key, starts.get(f"{key}:t"), now=now, window=seconds)
        if cache_count(f"{key}:n", 1, timeout=seconds) > limit:
            waits.append(start + seconds - now)
            over.append(key)
        counters.append(f"{key}:n")
    if waits:
        throttle_release(counters, window=window)
        throttled_count(over[0])
        raise Throttled(wait=max(1, math.ceil(max(waits))))
    return counters


def _window_start(key: str, start: float | None, *, now: float, window: float) -> float:
    """When the bucket's window began; one over by this process's clock ends, and one begins.

    The cache's expiry ends a window too; this keeps it exact, and on a clock a test controls.
    """
    if start is not None and float(start) + window > now:
        return float(start)
    if start is not None:
        cache_delete(f"{key}:n")
        cache_delete(f"{key}:t")
    cache_add(f"{key}:t", now, timeout=window)
    return now


def login_attempt_release(counters: list[str]) -> None:
    """Give back counted attempts: a right password is not a failure."""
    throttle_release(counters, window=dualauth_settings.LOGIN_FAILURE_WINDOW)


def throttle_release(counters: list[str], *, window: timedelta) -> None:
    """Give back the calls `throttle_take` counted."""
    for counter in counters:
        cache_count(counter, -1, timeout=window.total_seconds())


def login_device_token(*, request: HttpRequest, device_token: str = "") -> str:
    """The device token a login presents: a native client's, from its body, else a browser's,
    from its cookie.
    """
    return device_token or request.COOKIES.get(dualauth_settings.DEVICE_COOKIE_NAME, "")


def login_credentials_check(
    *, username: str, password: str, request: HttpRequest, mode: Mode, device_token: str = ""
) -> UserModel:
    """The user these credentials name for a login in `mode`, or 401 `invalid_credentials`, or
    429 while throttled.

    Unknown user, wrong password, inactive user and unusable password all take
    one password hash and give the same answer (Django's ModelBackend).
    """
    counters = login_attempt_reserve(
        username=username,
        request=request,
        device_token=login_device_token(request=request, device_token=device_token),
        mode=mode,
    )
    user = authenticate(request, username=username, password=password)
    if user is None:
        audit_event("login_failed", request=request, username=username, mode=mode)
        raise InvalidCredentials()
    login_attempt_release(counters)
    # Only the right password learns that the address awaits its verification.
    if dualauth_settings.EMAIL_VERIFICATION == "mandatory" and not email_verified(user_id=user.pk):
        audit_event("login_unverified", request=request, user_id=user.pk)
        raise EmailNotVerified()
    return user


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


def password_confirm(*, user: UserModel, password: str, field: str, request: HttpRequest) -> None:
    """Check the password of a logged-in user, counted as a login attempt; else 400 on `field`."""
    username = user.get_username()
    counters = login_attempt_reserve(username=username, request=request)
    if not user.check_password(password):
        audit_event("login_failed", request=request, username=username)
        raise ValidationError({field: ["The current password is not correct."]})
    login_attempt_release(counters)


def password_validate(*, password: str, user: UserModel, field: str) -> None:
    """Django's password validators on `password` for `user`; a 400 on `field` if one refuses."""
    try:
        validate_password(password, user)
    except DjangoValidationError as e:
        raise ValidationError({field: list(e.messages)}) from e


def password_change(
    *,
    user_id: UserId,
    old_password: str,
    new_password: str,
    keep_family_id: uuid.UUID | str | None,
    request: HttpRequest,
) -> UserModel:
    """Set a new password; every other login of the user ends, this one stays.

    The logins end through the user's `post_save` signal, as they do for a
    password set anywhere else; the kept login moves to the new password first.
    """
    user = get_user_model().objects.get(pk=user_id)
    password_confirm(user=user, password=old_password, field="old_password", request=request)
    password_validate(password=new_password, user=user, field="new_password")
    user.set_password(new_password)
    with transaction.atomic():
        if keep_family_id is not None:
            LoginFamily.objects.filter(pk=keep_family_id, user_id=user.pk).update(
                password_epoch=password_epoch(user.password)
            )
        user.save(update_fields=["password"])
    if keep_family_id is not None:
        cache_delete(family_cache_key(keep_family_id, user.pk))
    audit_event("password_change", request=request, user_id=user.pk, family_id=keep_family_id)
    signin_change_announce(user_id=user.pk, change=PASSWORD_CHANGED, request=request)
    return user


def user_create(
    *, username: str, password: str, email: str = "", display_name: str = ""
) -> UserModel:
    """Create an active user with a profile; `username` is the value of its USERNAME_FIELD."""
    model = get_user_model()
    fields = {model.USERNAME_FIELD: username}
    if model.get_email_field_name() != model.USERNAME_FIELD:
        fields[model.get_email_field_name()] = email
    user = model.objects.create_user(**fields, password=password)
    profile_update(user_id=user.pk, display_name=display_name)
    return user
