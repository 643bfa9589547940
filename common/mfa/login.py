"""A login's second step: begun by a right password, completed by a code or a passkey.

A password login of a user with a factor gets an `mfa_token` and no credential. The
token is single-use, bound to its user and to the login endpoint it came from, dies
after MFA_TOKEN_LIFETIME or MFA_MAX_ATTEMPTS wrong codes, and each wrong code counts
against the login throttle like a wrong password.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import F
from django.http import HttpRequest

from common.audit import audit_event
from common.conf import dualauth_settings
from common.credentials import csrf_enforce
from common.exceptions import MfaCodeNotValid, MfaTokenNotValid
from common.mfa.challenges import challenge_get, challenge_issue, challenge_take
from common.mfa.models import MfaChallenge
from common.mfa.selectors import RECOVERY_CODE, TOTP, WEBAUTHN, mfa_methods
from common.mfa.services import mfa_code_use
from common.mfa.webauthn.services import passkey_assertion_options, passkey_assertion_verify
from common.models import password_epoch
from common.principal import UserModel
from common.routes import JWT_COOKIE, SESSION, Mode, mode_of
from common.selectors import user_get
from common.throttling import login_attempt_release, login_attempt_reserve, login_device_token

# The modes whose login rides on cookies, so whose second step needs the CSRF token too.
COOKIE_MODES = (SESSION, JWT_COOKIE)


# RFC 8176 method values: a password; each second factor; two factors together.
PASSWORD_METHOD = "pwd"
FACTOR_METHODS = {TOTP: "otp", RECOVERY_CODE: "otp", WEBAUTHN: "hwk"}
TWO_FACTORS = "mfa"


@dataclass(frozen=True)
class MfaLogin:
    """A login whose second factor just proved right: whose, from which endpoint, asked what."""

    user: UserModel
    mode: Mode
    options: dict[str, Any]


def mfa_login_begin(
    *, user: UserModel, mode: Mode, request: HttpRequest, options: dict[str, Any]
) -> dict[str, Any] | None:
    """The 202 answer of a right password when the user has a second factor; else None.

    `options` is what the login endpoint was asked (`remember`, the device token): the
    completion answers as that endpoint would have.
    """
    methods = mfa_methods(user_id=user.pk)
    if not methods:
        return None
    challenge, webauthn = (
        passkey_assertion_options(user_id=user.pk, request=request)
        if WEBAUTHN in methods
        else (None, None)
    )
    lifetime = dualauth_settings.MFA_TOKEN_LIFETIME
    token = challenge_issue(
        purpose=MfaChallenge.Purpose.LOGIN,
        lifetime=lifetime,
        user_id=user.pk,
        mode=mode,
        options={
            **options,
            # The device the first step counted its attempt against counts the second's.
            "device_token": login_device_token(
                request=request, device_token=options.get("device_token", "")
            ),
            "epoch": password_epoch(user.password),
        },
        webauthn_challenge=challenge,
    )
    audit_event("mfa_required", request=request, user_id=user.pk, mode=mode)
    return {
        "detail": "Enter a code from your authenticator app, or use a passkey.",
        "code": "mfa_required",
        "mfa_token": token,
        "methods": methods,
        "expires_in": int(lifetime.total_seconds()),
        **({"webauthn": webauthn} if webauthn is not None else {}),
    }


def mfa_login_complete(
    *,
    mfa_token: str,
    request: HttpRequest,
    precheck: Callable[[Mode], dict[str, Any]],
    code: str = "",
    webauthn: dict[str, Any] | None = None,
    device_token: str = "",
) -> MfaLogin:
    """The login that `mfa_token` holds, once `code` or the passkey answer `webauthn` proves right.

    A wrong one is a 400 `mfa_code_not_valid`, counted against the token's attempts and
    the login throttle (a known device's limit: the first step's device token, else the one
    this step presents); the token is taken by the right one, so it completes one login.
    `precheck` checks the request as the login's mode does (a DPoP proof) before anything
    is counted or used; what it answers joins the login's options.
    """
    purpose = MfaChallenge.Purpose.LOGIN
    challenge = challenge_get(purpose=purpose, token=mfa_token)
    if challenge is None:
        raise MfaTokenNotValid()
    if challenge.mode in COOKIE_MODES:
        csrf_enforce(request)
    mode = mode_of(challenge.mode)
    checked = precheck(mode)
    user = user_get(user_id=challenge.user_id) if challenge.user_id is not None else None
    options = dict(challenge.options)
    # A password changed since the first step ends this login too.
    if user is None or options.pop("epoch", None) != password_epoch(user.password):
        challenge_take(purpose=purpose, token=mfa_token)
        raise MfaTokenNotValid()
    counters = login_attempt_reserve(
        username=user.get_username(),
        request=request,
        device_token=options.get("device_token")
        or login_device_token(request=request, device_token=device_token),
        mode=mode,
    )
    if not MfaChallenge.objects.filter(
        pk=challenge.pk, attempts__lt=dualauth_settings.MFA_MAX_ATTEMPTS
    ).update(attempts=F("attempts") + 1):
        raise MfaTokenNotValid()
    method = _second_factor_use(
        user=user, challenge=challenge, code=code, webauthn=webauthn, request=request
    )
    if method is None:
        audit_event("mfa_failed", request=request, user_id=user.pk, mode=mode)
        raise MfaCodeNotValid()
    if challenge_take(purpose=purpose, token=mfa_token) is None:
        raise MfaTokenNotValid()
    login_attempt_release(counters)
    audit_event("mfa_passed", request=request, user_id=user.pk, mode=mode, method=method)
    # The first step's methods (a password's, a provider's), the factor's, and both together.
    first = str(options.get("amr") or PASSWORD_METHOD).split()
    options["amr"] = " ".join(dict.fromkeys([*first, FACTOR_METHODS[method], TWO_FACTORS]))
    return MfaLogin(user=user, mode=mode, options={**options, **checked})


def _second_factor_use(
    *,
    user: UserModel,
    challenge: MfaChallenge,
    code: str,
    webauthn: dict[str, Any] | None,
    request: HttpRequest,
) -> str | None:
    """Which factor proved the login, or None."""
    if webauthn is not None:
        if challenge.webauthn_challenge is None:
            return None
        verified = passkey_assertion_verify(
            user_id=user.pk,
            credential=webauthn,
            challenge=bytes(challenge.webauthn_challenge),
            request=request,
        )
        return WEBAUTHN if verified else None
    return mfa_code_use(user=user, code=code, request=request)
