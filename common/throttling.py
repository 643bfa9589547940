"""Throttling: counted calls in buckets shared by every instance (or in a fallback while the
cache cannot count), the login attempts' buckets by device, name and address, the device
tokens that name a device, and the per-address throttle of the public account and
second-factor endpoints as a DRF throttle class.
"""

import hashlib
import math
import secrets
import threading
import time
from datetime import timedelta
from typing import Any

from django.core import signing
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from common.audit import audit_event
from common.cache import cache_add, cache_count, cache_delete, cache_get_many
from common.conf import dualauth_settings
from common.metrics import throttled_count
from common.models import ThrottleCount
from common.net import client_ip
from common.principal import UserId, UserModel
from common.routes import Mode
from common.selectors import user_get_by_login

DEVICE_TOKEN_SALT = "dualauth.login-device"


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


def login_address_attempt_reserve(
    *, request: HttpRequest, mode: Mode | None = None, method: str = "passkey"
) -> list[str]:
    """Count a login attempt in `mode` that names no user (a passkey's, a provider's: `method`)
    in its client address's bucket, the password logins' own; 429 once it is over its limit.
    """
    bucket = (
        _login_throttle_key("ip", client_ip(request)),
        dualauth_settings.LOGIN_FAILURES_PER_ADDRESS,
    )
    try:
        return throttle_take(buckets=[bucket], window=dualauth_settings.LOGIN_FAILURE_WINDOW)
    except Throttled:
        audit_event("login_throttled", request=request, method=method, mode=mode)
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


class AccountAddressThrottle(BaseThrottle):
    """ACCOUNT_REQUESTS_PER_ADDRESS calls of the view's `throttle_scope` per client address.

    It runs before the body is read, so that malformed calls count too; shared by every
    instance through the cache.
    """

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        """Count this call; False once the address is over its limit."""
        try:
            account_throttle(endpoint=view.throttle_scope, request=request._request)
        except Throttled as e:
            # DRF sets `wait` (seconds) on every Throttled; its stubs do not say so.
            self._wait = getattr(e, "wait", None)
            return False
        return True

    def wait(self) -> float | None:
        """Seconds until the window ends, once refused."""
        return self._wait
