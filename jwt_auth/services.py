"""Token logins: families of rotating refresh tokens, with reuse detection."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.exceptions import TokenError

from common.audit import audit_event
from common.conf import dualauth_settings
from common.credentials import Credential
from common.exceptions import TokenNotValid, TokenReused, TokenRevoked
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
from common.selectors import LoginClaim, login_claim, user_get
from jwt_auth.tokens import (
    FAMILY_CLAIM,
    FamilyAccessToken,
    FamilyRefreshToken,
    FamilyUntypedToken,
    lifetime,
    token_build,
)

TokenClass = type[FamilyAccessToken] | type[FamilyRefreshToken] | type[FamilyUntypedToken]


@dataclass(frozen=True)
class TokenPair:
    """A new access token and the family's current refresh token."""

    access: str
    refresh: str
    expires_in: int
    refresh_expires_at: datetime


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
    return TokenPair(
        access=token_build(
            FamilyAccessToken,
            user_id=family.user_id,
            family_id=family.pk.hex,
            jti=uuid.uuid4().hex,
            issued_at=now,
            expires_at=access_expires_at,
        ),
        refresh=token_build(
            FamilyRefreshToken,
            user_id=family.user_id,
            family_id=family.pk.hex,
            jti=family.refresh_jti,
            issued_at=family.refresh_issued_at,
            expires_at=refresh_expires_at,
        ),
        expires_in=int((access_expires_at - now).total_seconds()),
        refresh_expires_at=refresh_expires_at,
    )


def token_obtain(*, user: UserModel, request: HttpRequest, mode: Mode) -> TokenPair:
    """Start a token family for `user` and return its first pair."""
    family = family_create(
        user=user,
        request=request,
        mode=mode,
        lifetime=dualauth_settings.FAMILY_LIFETIME,
        refresh_jti=uuid.uuid4().hex,
    )
    return _pair(family)


def token_refresh(*, raw: str, request: HttpRequest) -> TokenPair:
    """Rotate a refresh token, atomically at the database.

    Only the request whose conditional update matches the current `refresh_jti`
    rotates; a repeat within the grace window re-derives the same successor; any
    later use is reuse, and revokes the whole family.
    """
    token = token_decode(FamilyRefreshToken, raw)
    family_id, jti = token[FAMILY_CLAIM], token["jti"]
    # The family of the user the token names, and no other.
    login = LoginFamily.objects.filter(pk=family_id, user_id=_user_id(token))
    now = timezone.now()
    rotated = login.filter(refresh_jti=jti, revoked_at__isnull=True, expires_at__gt=now).update(
        previous_jti=jti, refresh_jti=uuid.uuid4().hex, refresh_issued_at=now, last_seen_at=now
    )
    family = login.first()
    user = user_get(user_id=family.user_id) if family is not None else None
    if family is None or family.revoked_at is not None or user is None:
        raise TokenRevoked()
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


def access_claim(*, raw: str) -> LoginClaim:
    """The login a valid access token names, or 401 `token_not_valid`."""
    token = token_decode(FamilyAccessToken, raw)
    claim = login_claim(family_id=token[FAMILY_CLAIM], user_id=_user_id(token))
    if claim is None:
        raise TokenNotValid()
    return claim


def access_login(*, claim: LoginClaim, mode: Mode) -> tuple[Principal, Credential]:
    """The principal of the live login an access token names, used in `mode`; else 401."""
    found = login_claim_authenticate(claim=claim)
    if found is None:
        raise TokenRevoked()
    state, principal = found
    family_touch(family_id=claim.family_id)
    return principal, Credential(
        mode=mode, family_id=claim.family_id, authenticated_at=state.authenticated_at
    )
