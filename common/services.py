"""Writes shared by every mode: the hot path's cache, families, throttling, profile, password."""

import hashlib
import logging
import math
import secrets
import threading
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
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.exceptions import Throttled, ValidationError

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
from common.models import LoginFamily, Profile, ThrottleCount, password_epoch
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
    email_verified,
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


def family_touch(*, family_id: uuid.UUID) -> None:
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

    The counts are atomic and shared by every instance, in the cache; while the cache cannot
    count, in the THROTTLE_FALLBACK (the database, or this process). Returns the counters
    taken, for `throttle_release`.
    """
    counters = _cache_throttle_take(buckets=buckets, window=window)
    if counters is not None:
        return counters
    if dualauth_settings.THROTTLE_FALLBACK == "process":
        return _process_throttle_take(buckets=buckets, window=window)
    return _database_throttle_take(buckets=buckets, window=window)


def _throttled(*, waits: list[float], over: list[str]) -> Throttled:
    """The 429 of a call over the limits of the buckets `over`, the longest wait first."""
    throttled_count(over[0])
    return Throttled(wait=max(1, math.ceil(max(waits))))


def _cache_throttle_take(*, buckets: list[tuple[str, int]], window: timedelta) -> list[str] | None:
    """`throttle_take` in the shared cache; None, counting nothing, when the cache cannot count."""
    seconds = window.total_seconds()
    now = time.time()
    starts = cache_get_many([f"{key}:t" for key, _ in buckets])
    if starts is None:
        return None
    counters: list[str] = []
    waits, over = [], []
    for key, limit in buckets:
        start = _window_start(key, starts.get(f"{key}:t"), now=now, window=seconds)
        count = cache_count(f"{key}:n", 1, timeout=seconds)
        if count == 0:  # the cache failed meanwhile
            throttle_release(counters, window=window)
            return None
        counters.append(f"{key}:n")
        if count > limit:
            waits.append(start + seconds - now)
            over.append(key)
    if waits:
        throttle_release(counters, window=window)
        raise _throttled(waits=waits, over=over)
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


# The counters of the fallbacks are named apart from the cache's (`<key>:n`).
DATABASE_COUNTER, PROCESS_COUNTER = "database:", "process:"
# When this process last deleted the database's ended buckets.
_throttle_purged = [0.0]


def _database_throttle_take(*, buckets: list[tuple[str, int]], window: timedelta) -> list[str]:
    """`throttle_take` in the database: each bucket's row locked, counted and checked in one
    transaction, so that concurrent calls on every instance count one after the other.
    """
    seconds = window.total_seconds()
    now = time.time()
    if now - _throttle_purged[0] > seconds:
        _throttle_purged[0] = now
        ThrottleCount.objects.filter(expires_at__lt=now).delete()
    waits, over = [], []
    with transaction.atomic():
        # In one order, so that two calls locking the same rows cannot deadlock.
        for key, limit in sorted(buckets):
            row, _ = ThrottleCount.objects.select_for_update().get_or_create(
                key=key, defaults={"window_start": now, "expires_at": now + seconds}
            )
            if row.expires_at <= now:
                row.count, row.window_start, row.expires_at = 0, now, now + seconds
            row.count += 1
            if row.count > limit:
                waits.append(row.expires_at - now)
                over.append(key)
            row.save()
        if waits:
            # Raised inside the transaction: it undoes every count of this call.
            raise _throttled(waits=waits, over=over)
    return [DATABASE_COUNTER + key for key, _ in buckets]


# This process's counts while the cache is down: key -> (count, window end), and how many
# keys it holds at most (past them, a new key is refused: memory stays bounded).
_process_counts: dict[str, tuple[int, float]] = {}
_process_lock = threading.Lock()
PROCESS_THROTTLE_KEYS = 100_000


def _process_throttle_take(*, buckets: list[tuple[str, int]], window: timedelta) -> list[str]:
    """`throttle_take` in this process's memory: every process counts on its own."""
    seconds = window.total_seconds()
    now = time.time()
    waits, over = [], []
    with _process_lock:
        if len(_process_counts) >= PROCESS_THROTTLE_KEYS:
            for key, (_, end) in list(_process_counts.items()):
                if end <= now:
                    del _process_counts[key]
        taken: dict[str, tuple[int, float]] = {}
        for key, limit in buckets:
            count, end = _process_counts.get(key, (0, 0.0))
            if end <= now:
                count, end = 0, now + seconds
            if key not in _process_counts and len(_process_counts) >= PROCESS_THROTTLE_KEYS:
                count = limit
            if count + 1 > limit:
                waits.append(end - now)
                over.append(key)
            taken[key] = (count + 1, end)
        if not waits:
            _process_counts.update(taken)
    if waits:
        raise _throttled(waits=waits, over=over)
    return [PROCESS_COUNTER + key for key, _ in buckets]


def login_attempt_release(counters: list[str]) -> None:
    """Give back counted attempts: a right password is not a failure."""
    throttle_release(counters, window=dualauth_settings.LOGIN_FAILURE_WINDOW)


def throttle_release(counters: list[str], *, window: timedelta) -> None:
    """Give back the calls `throttle_take` counted, wherever it counted them."""
    for counter in counters:
        if counter.startswith(DATABASE_COUNTER):
            ThrottleCount.objects.filter(
                key=counter.removeprefix(DATABASE_COUNTER), count__gt=0
            ).update(count=F("count") - 1)
        elif counter.startswith(PROCESS_COUNTER):
            key = counter.removeprefix(PROCESS_COUNTER)
            with _process_lock:
                count, end = _process_counts.get(key, (0, 0.0))
                if count > 0:
                    _process_counts[key] = (count - 1, end)
        else:
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


def password_confirm(
    *, user: UserModel, password: str, field: str, request: HttpRequest, device_token: str = ""
) -> None:
    """Check the password of a logged-in user, counted as a login attempt; else 400 on `field`.

    A known device (`device_token`, else the device cookie) is counted as at login.
    """
    username = user.get_username()
    counters = login_attempt_reserve(
        username=username,
        request=request,
        device_token=login_device_token(request=request, device_token=device_token),
    )
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
    device_token: str = "",
) -> UserModel:
    """Set a new password; every other login of the user ends, this one stays.

    The logins end through the user's `post_save` signal, as they do for a
    password set anywhere else; the kept login moves to the new password first.
    """
    user = get_user_model().objects.get(pk=user_id)
    password_confirm(
        user=user,
        password=old_password,
        field="old_password",
        request=request,
        device_token=device_token,
    )
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


def account_throttle(*, endpoint: str, request: HttpRequest) -> None:
    """Count a call of the public account endpoint `endpoint` from this client; 429 when over."""
    throttle_take(
        buckets=[
            (
                throttle_key(f"account:{endpoint}", client_ip(request)),
                dualauth_settings.ACCOUNT_REQUESTS_PER_ADDRESS,
            )
        ],
        window=dualauth_settings.ACCOUNT_THROTTLE_WINDOW,
    )
