"""Token logins: families of rotating refresh tokens, with reuse detection."""

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.exceptions import TokenError

from common.audit import audit_event
from common.cache import cache_get_many_and_add
from common.conf import dualauth_settings
from common.credentials import Credential, login_acr
from common.exceptions import DpopProofNotValid, TokenNotValid, TokenReused, TokenRevoked
from common.logins import (
    family_create,
    family_revoke,
    family_touch,
    login_authenticate,
    login_claim_authenticate,
)
from common.models import LoginFamily, password_epoch
from common.principal import Principal, UserId, UserModel, user_id_parse
from common.routes import Mode
from common.selectors import FamilyState, LoginClaim, login_claim, user_get
from jwt_auth.dpop import (
    DpopProof,
    dpop_bound_token_refusal,
    dpop_first_use,
    dpop_other_key_refusal,
    dpop_replay_key,
    dpop_replay_timeout,
    dpop_replayed,
    dpop_unbound_token_refusal,
)
from jwt_auth.tokens import (
    CONFIRMATION_CLAIM,
    FAMILY_CLAIM,
    FamilyAccessToken,
    FamilyRefreshToken,
    FamilyUntypedToken,
    lifetime,
    token_build,
    token_key_thumbprint,
)

TokenClass = type[FamilyAccessToken] | type[FamilyRefreshToken] | type[FamilyUntypedToken]


@dataclass(frozen=True)
class TokenPair:
    """A new access token and the family's current refresh token."""

    access: str
    refresh: str
    expires_in: int
    refresh_expires_at: datetime
    # "DPoP" for a login bound to a client's key (RFC 9449 5), else "Bearer".
    token_type: str = "Bearer"


def token_decode(
    token_class: TokenClass, raw: str
) -> FamilyAccessToken | FamilyRefreshToken | FamilyUntypedToken:
    """A verified token of `token_class`, or 401 `token_not_valid`."""
    try:
        return token_class(raw)  # type: ignore[arg-type]
    except TokenError as e:
        raise TokenNotValid() from e


def _pair(family: LoginFamily) -> TokenPair:
    """Re-derive the family's current refresh token and sign a new access token."""
    assert family.refresh_issued_at is not None
    now = timezone.now()
    refresh_expires_at = min(
        family.refresh_issued_at + lifetime(FamilyRefreshToken), family.expires_at
    )
    access_expires_at = min(now + lifetime(FamilyAccessToken), family.expires_at)
    bound = {CONFIRMATION_CLAIM: {"jkt": family.dpop_jkt}} if family.dpop_jkt else {}
    amr = family.amr.split()
    acr = login_acr(amr)
    # What a resource server needs to ask for a fresher or stronger login (RFC 9470).
    authentication = {
        "auth_time": int(family.authenticated_at.timestamp()),
        "amr": amr,
        **({"acr": acr} if acr is not None else {}),
    }
    return TokenPair(
        access=token_build(
            FamilyAccessToken,
            user_id=family.user_id,
            family_id=family.pk.hex,
            jti=uuid.uuid4().hex,
            issued_at=now,
            expires_at=access_expires_at,
            claims={**authentication, **bound},
        ),
        refresh=token_build(
            FamilyRefreshToken,
            user_id=family.user_id,
            family_id=family.pk.hex,
            jti=family.refresh_jti,
            issued_at=family.refresh_issued_at,
            expires_at=refresh_expires_at,
            claims=bound,
        ),
        expires_in=int((access_expires_at - now).total_seconds()),
        refresh_expires_at=refresh_expires_at,
        token_type="DPoP" if family.dpop_jkt else "Bearer",
    )


def token_obtain(
    *,
    user: UserModel,
    request: HttpRequest,
    mode: Mode,
    amr: str = "pwd",
    proof: DpopProof | None = None,
) -> TokenPair:
    """Start a token family for `user`, logged in by the methods `amr`, and return its first
    pair; bound to the key of `proof` when one came with the login.
    """
    family = family_create(
        user=user,
        request=request,
        mode=mode,
        lifetime=dualauth_settings.FAMILY_LIFETIME,
        refresh_jti=uuid.uuid4().hex,
        amr=amr,
        dpop_jkt=proof.jkt if proof is not None else "",
    )
    return _pair(family)


def token_refresh(*, raw: str, request: HttpRequest, proof: DpopProof | None = None) -> TokenPair:
    """Rotate a refresh token, atomically at the database.

    Only the request whose conditional update matches the current `refresh_jti`
    rotates; a repeat within the grace window re-derives the same successor; any
    later use is reuse, and revokes the whole family. A family bound to a key rotates
    only with a `proof` of that key, and without one nothing happens at all: no rotation,
    no reuse detected. A `proof` binds a family bound to no key yet.
    """
    token = token_decode(FamilyRefreshToken, raw)
    family_id, jti = token[FAMILY_CLAIM], token["jti"]
    # The family of the user the token names, and no other.
    login = LoginFamily.objects.filter(pk=family_id, user_id=_user_id(token))
    now = timezone.now()
    binding = Q(dpop_jkt="") | Q(dpop_jkt=proof.jkt) if proof is not None else Q(dpop_jkt="")
    bind = {"dpop_jkt": proof.jkt} if proof is not None else {}
    rotated = login.filter(
        binding, refresh_jti=jti, revoked_at__isnull=True, expires_at__gt=now
    ).update(
        previous_jti=jti,
        refresh_jti=uuid.uuid4().hex,
        refresh_issued_at=now,
        last_seen_at=now,
        **bind,
    )
    family = login.first()
    user = user_get(user_id=family.user_id) if family is not None else None
    if family is None or family.revoked_at is not None or user is None:
        raise TokenRevoked()
    if not rotated and family.dpop_jkt and (proof is None or proof.jkt != family.dpop_jkt):
        # Only the key's holder may rotate, or set off the reuse detection that ends the login.
        audit_event("dpop_refused", request=request, user_id=family.user_id, family_id=family.pk)
        raise DpopProofNotValid("This login is bound to a key: refresh it with a proof of it.")
    if family.password_epoch != password_epoch(user.password):
        # The password changed without a signal (`QuerySet.update()`): the login is over.
        family_revoke(family_id=family.pk, user_id=user.pk, reason="password", request=request)
        raise TokenRevoked()
    if rotated:
        audit_event("refresh", request=request, user_id=family.user_id, family_id=family.pk)
        return _pair(family)
    if family.expires_at <= now:
        raise TokenNotValid("This login has expired; log in again.")
    assert family.refresh_issued_at is not None
    grace = dualauth_settings.REFRESH_GRACE_PERIOD
    if family.previous_jti == jti and now - family.refresh_issued_at <= grace:
        # A retry after a lost reply, or a copy of the token used in parallel: the log must show it.
        audit_event("refresh_repeat", request=request, user_id=family.user_id, family_id=family.pk)
        return _pair(family)
    family_revoke(family_id=family.pk, user_id=family.user_id, reason="reuse", request=request)
    audit_event("reuse_detected", request=request, user_id=family.user_id, family_id=family.pk)
    raise TokenReused()


def token_verify(*, raw: str) -> None:
    """Accept a token exactly when the profile would: a live family of an active user.

    A refresh token must moreover be the family's current one, not a rotated-out one.
    """
    token = token_decode(FamilyUntypedToken, raw)
    if login_authenticate(family_id=token[FAMILY_CLAIM], user_id=_user_id(token)) is None:
        raise TokenRevoked()
    if token["token_type"] == FamilyRefreshToken.token_type:
        family = LoginFamily.objects.filter(pk=token[FAMILY_CLAIM]).first()
        if family is None or family.refresh_jti != token["jti"]:
            raise TokenNotValid("Refresh token was already rotated.")


def _user_id(token: FamilyAccessToken | FamilyRefreshToken | FamilyUntypedToken) -> UserId:
    """The primary key of the user a verified token names, or 401 `token_not_valid`."""
    user_id = user_id_parse(token.get(simplejwt_settings.api_settings.USER_ID_CLAIM))
    if user_id is None:
        raise TokenNotValid()
    return user_id


def token_logout(*, raw: str, request: HttpRequest, token_class: TokenClass) -> None:
    """Revoke the family of a valid refresh (or, for cookies, access) token."""
    token = token_decode(token_class, raw)
    user_id = _user_id(token)
    if not family_revoke(
        family_id=token[FAMILY_CLAIM], user_id=user_id, reason="logout", request=request
    ):
        raise TokenRevoked()


@dataclass(frozen=True, slots=True)
class AccessClaim:
    """The login a valid access token names, and the verified DPoP proof of the key the
    token is bound to, when it is bound.
    """

    login: LoginClaim
    proof: DpopProof | None


def access_claim(*, raw: str, proof: DpopProof | None = None) -> AccessClaim:
    """The login a valid access token names, or 401 `token_not_valid`.

    A token bound to a key needs a `proof` of that key, and a `proof` a bound token.
    """
    token = token_decode(FamilyAccessToken, raw)
    claim = login_claim(family_id=token[FAMILY_CLAIM], user_id=_user_id(token))
    if claim is None:
        raise TokenNotValid()
    bound = token_key_thumbprint(token)
    if proof is None:
        if bound is not None:
            raise dpop_bound_token_refusal()
    else:
        if bound is None:
            raise dpop_unbound_token_refusal()
        if not hmac.compare_digest(proof.jkt, bound):
            raise dpop_other_key_refusal()
    return AccessClaim(login=claim, proof=proof)


def access_login(*, claim: AccessClaim, mode: Mode) -> tuple[Principal, Credential]:
    """The principal of the live login an access token names, used in `mode`; else 401.

    A proof's `jti` is recorded in the round trip that reads the login: a proof works once.
    """
    login = claim.login
    found = (
        login_claim_authenticate(claim=login)
        if claim.proof is None
        else _login_authenticate_once(claim=login, proof=claim.proof)
    )
    if found is None:
        raise TokenRevoked()
    state, principal = found
    family_touch(family_id=login.family_id)
    return principal, Credential(
        mode=mode, family_id=login.family_id, authenticated_at=state.authenticated_at, amr=state.amr
    )


def _login_authenticate_once(
    *, claim: LoginClaim, proof: DpopProof
) -> tuple[FamilyState, Principal] | None:
    """`login_claim_authenticate`, with the proof's `jti` marked used in the same cache round
    trip; a proof used before is refused.
    """
    key = dpop_replay_key(proof, hash_tag=claim.hash_tag)
    values, stored = cache_get_many_and_add(
        [claim.family_key, claim.user_key],
        add_key=key,
        add_value=1,
        timeout=dpop_replay_timeout(),
    )
    if not dpop_first_use(key, stored):
        raise dpop_replayed(resource=True)
    return login_claim_authenticate(claim=claim, prefetched=values or {})
