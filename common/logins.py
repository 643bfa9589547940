"""Writes of logins: a login's check on each request, its family's creation and revocation, and
the credentials check of a password login.
"""

import math
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import authenticate
from django.core.cache import caches
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from common.audit import audit_event
from common.cache import cache_add, cache_set, cache_set_many
from common.cache_recovery import cache_identity
from common.conf import CACHE_ALIAS, dualauth_settings
from common.exceptions import InvalidCredentials
from common.memo import BoundedMemo
from common.models import LoginFamily, password_epoch
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
    LoginClaim,
    family_cache_key,
    family_state_from_cache,
    family_state_get,
    family_state_live,
    login_cache_get,
    login_claim,
    user_get,
)
from common.throttling import login_attempt_release, login_attempt_reserve, login_device_token

# What a feature asks of a user whose login credentials are proven, before the login is made:
# called with `user` and `request`, it raises an APIException to refuse (the accounts' 403
# `email_not_verified`).
LoginGate = Callable[..., None]
_login_gates: list[LoginGate] = []

# When this process last wrote each family's `last_seen_at`: at most once a TOUCH_INTERVAL.
_seen: BoundedMemo[uuid.UUID, float] = BoundedMemo(4096)


def login_authenticate(
    *, family_id: uuid.UUID | str, user_id: UserId
) -> tuple[FamilyState, Principal] | None:
    """A live family `family_id` of the active user `user_id`, and that user's principal; else
    None (as `login_claim_authenticate`).
    """
    claim = login_claim(family_id=family_id, user_id=user_id)
    return login_claim_authenticate(claim=claim) if claim is not None else None


def login_claim_authenticate(
    *, claim: LoginClaim, prefetched: dict[str, Any] | None = None
) -> tuple[FamilyState, Principal] | None:
    """The live family `claim` names, of an active user, and that user's principal; else None.

    Both come from one cache round trip in the steady state, with no SQL (or from
    `prefetched`, when the caller fetched them along with something else). A miss, or
    the cache down, reads the database and fills the cache: a family's state only if
    nothing is cached for it (`add`), so that a fill racing a revocation cannot bring
    the family back. A login begun under another password than the user's is over.
    """
    values = prefetched if prefetched is not None else login_cache_get(claim=claim)
    ttl = dualauth_settings.FAMILY_CACHE_TTL.total_seconds()
    cached = values.get(claim.family_key)
    state = family_state_from_cache(cached)
    if state is None and cached != REVOKED:
        state = family_state_get(family_id=claim.family_id)
        if state is not None:
            cache_add(claim.family_key, state.as_cached(), timeout=ttl)
    if state is None or not family_state_live(state, user_id=claim.user_id):
        return None
    principal = principal_from_snapshot(values.get(claim.user_key), max_age=ttl)
    if principal is None:
        user = user_get(user_id=claim.user_id)
        if user is None:
            return None
        principal = principal_from_user(user)
        cache_set(claim.user_key, principal_snapshot(principal), ttl)
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


def family_create(
    *,
    user: UserModel,
    request: HttpRequest,
    mode: Mode,
    lifetime: timedelta,
    refresh_jti: str = "",
    amr: str = "pwd",
    dpop_jkt: str = "",
) -> LoginFamily:
    """Record a new login of `user` in `mode`, under the user's current password, proved by
    the methods `amr` (RFC 8176, space-separated); bound to the client key `dpop_jkt`, if any.
    """
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
        amr=amr,
        dpop_jkt=dpop_jkt,
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
    # Only the right password learns what a gate asks (that the address awaits verification).
    login_admit(user=user, request=request)
    return user


def login_gate_add(gate: LoginGate) -> None:
    """Have `gate` pass or refuse every login whose credentials are proven (once per gate)."""
    if gate not in _login_gates:
        _login_gates.append(gate)


def login_admit(*, user: UserModel, request: HttpRequest) -> None:
    """Let `user`, whose credentials are proven, log in, or raise what a feature's gate refuses."""
    for gate in _login_gates:
        gate(user=user, request=request)
