"""Writes of second factors: an authenticator app, recovery codes, a code's single use.

Every change of a factor needs a fresh login (the views' permission), is audited and is
announced as a sign-in change (common/changes.py), which mails the user; when the last
factor goes, its recovery codes go with it.
"""

import hashlib
import secrets
import uuid

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from common.audit import audit_event
from common.changes import (
    RECOVERY_CODE_USED,
    RECOVERY_CODES_GENERATED,
    TOTP_DISABLED,
    TOTP_ENABLED,
    signin_change_announce,
)
from common.conf import dualauth_settings
from common.exceptions import MfaCodeNotValid
from common.mfa.models import RecoveryCode, TotpDevice
from common.mfa.selectors import (
    RECOVERY_CODE,
    TOTP,
    mfa_factors,
    recovery_codes_left,
    totp_enabled,
)
from common.mfa.totp import (
    totp_code_step,
    totp_provisioning,
    totp_secret_decrypt,
    totp_secret_encrypt,
    totp_secret_new,
)
from common.principal import UserId, UserModel
from common.throttling import login_attempt_release, login_attempt_reserve, login_device_token

# What the owner is told when the factor that went was their last.
LAST_FACTOR_GONE = (
    "It was the last second factor: your password alone now signs you in, "
    "and your recovery codes no longer work."
)
# Recovery codes: 24 characters of 31 that cannot be misread, in groups of 4: 118 bits, over
# the 112 that ASVS 5.0 (6.5.2) asks of a secret stored under a plain hash.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_GROUPS, RECOVERY_GROUP_LENGTH = 6, 4


def _user(user_id: UserId) -> UserModel:
    return get_user_model().objects.get(pk=user_id)


def totp_setup_get(*, user_id: UserId, family_id: uuid.UUID) -> dict[str, object]:
    """Whether the user's app is enabled; until it is, the secret to give it.

    The secret being set up belongs to the login that asked for it: another login asking
    gets a new one, so that no login, however stale, learns a secret another enables.
    """
    with transaction.atomic():
        # Setups of one user, from any of its logins, take their turns.
        get_user_model().objects.select_for_update().filter(pk=user_id).exists()
        device = TotpDevice.objects.filter(user_id=user_id).first()
        if device is not None and device.confirmed_at is not None:
            return {"enabled": True}
        if device is None or device.setup_family_id != family_id:
            device = device or TotpDevice(user_id=user_id)
            device.encrypted_secret = totp_secret_encrypt(totp_secret_new())
            device.created_at = timezone.now()
            device.setup_family_id = family_id
            device.last_used_step = 0
            device.save()
    secret = totp_secret_decrypt(device.encrypted_secret)
    url, svg = totp_provisioning(secret=secret, account=_user(user_id).get_username())
    return {"enabled": False, "secret": secret, "otpauth_url": url, "qr_svg": svg}


def _totp_step_use(*, device: TotpDevice, code: str, confirm: bool = False) -> bool:
    """Use `code` of the device's app: right, and of a later step than any used before.

    The step is recorded conditionally, so that of two requests with one code only
    one succeeds. `confirm` enables a device being set up, and only such a device.
    """
    step = totp_code_step(secret=totp_secret_decrypt(device.encrypted_secret), code=code)
    if step is None:
        return False
    # Only over the secret the code was checked against: a setup may have replaced it.
    devices = TotpDevice.objects.filter(
        pk=device.pk, encrypted_secret=device.encrypted_secret, last_used_step__lt=step
    )
    if confirm:
        return bool(
            devices.filter(confirmed_at__isnull=True).update(
                last_used_step=step, confirmed_at=timezone.now()
            )
        )
    return bool(devices.filter(confirmed_at__isnull=False).update(last_used_step=step))


def totp_enable(
    *, user_id: UserId, family_id: uuid.UUID, code: str, request: HttpRequest
) -> list[str]:
    """Enable the app this login is setting up, with a first code from it; a new set of
    recovery codes.
    """
    device = TotpDevice.objects.filter(user_id=user_id).first()
    if device is not None and device.confirmed_at is not None:
        raise ValidationError({"code": ["An authenticator app is already enabled."]})
    if device is None or device.setup_family_id != family_id:
        raise ValidationError({"code": ["Get a secret for your app first (GET totp/)."]})
    with transaction.atomic():
        if not _totp_step_use(device=device, code=code, confirm=True):
            raise MfaCodeNotValid()
        codes = _recovery_codes_replace(user_id=user_id)
    audit_event("totp_enabled", request=request, user_id=user_id)
    signin_change_announce(
        user_id=user_id, change=TOTP_ENABLED, request=request, reference=str(device.pk)
    )
    return codes


def totp_disable(*, user_id: UserId, request: HttpRequest) -> None:
    """Remove the user's app, enabled or being set up."""
    enabled = totp_enabled(user_id=user_id)
    TotpDevice.objects.filter(user_id=user_id).delete()
    if enabled:
        audit_event("totp_disabled", request=request, user_id=user_id)
        last = mfa_factor_removed(user_id=user_id, request=request)
        signin_change_announce(
            user_id=user_id,
            change=TOTP_DISABLED,
            request=request,
            detail=LAST_FACTOR_GONE if last else "",
        )


def totp_enabled_undo(user_id: UserId, reference: str) -> None:
    """Remove the app whose enabling is being undone (if it is still the user's); the
    recovery codes go too when no factor remains.
    """
    if reference.isdigit():
        TotpDevice.objects.filter(pk=int(reference), user_id=user_id).delete()
    mfa_factor_removed(user_id=user_id)


def _recovery_code_new() -> str:
    return "-".join(
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP_LENGTH))
        for _ in range(RECOVERY_GROUPS)
    )


def _recovery_digest(code: str) -> str:
    """What is stored of a recovery code: the SHA-256 of its characters, in any case or grouping.

    118 random bits need no slow, salted hash: no one can try enough of them.
    """
    folded = "".join(ch for ch in code.casefold() if ch.isalnum())
    return hashlib.sha256(folded.encode()).hexdigest()


def _recovery_codes_replace(*, user_id: UserId) -> list[str]:
    """A new set of recovery codes for the user; the old set dies."""
    codes = [_recovery_code_new() for _ in range(dualauth_settings.RECOVERY_CODE_COUNT)]
    now = timezone.now()
    with transaction.atomic():
        RecoveryCode.objects.filter(user_id=user_id).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user_id=user_id, digest=_recovery_digest(code), created_at=now)
            for code in codes
        )
    return codes


def recovery_codes_generate(*, user_id: UserId, request: HttpRequest) -> list[str]:
    """A new set of recovery codes, shown this once; the old ones die. Needs a factor."""
    factors = mfa_factors(user_id=user_id)
    if not (factors["totp"] or factors["passkeys"]):
        raise ValidationError(
            {"non_field_errors": ["Enable an authenticator app or add a passkey first."]}
        )
    codes = _recovery_codes_replace(user_id=user_id)
    audit_event("recovery_codes_generated", request=request, user_id=user_id)
    signin_change_announce(user_id=user_id, change=RECOVERY_CODES_GENERATED, request=request)
    return codes


def _recovery_code_use(*, user: UserModel, code: str, request: HttpRequest) -> bool:
    """Use one of the user's recovery codes, once; the user is told by mail how many remain."""
    used = RecoveryCode.objects.filter(
        user_id=user.pk, digest=_recovery_digest(code), used_at__isnull=True
    ).update(used_at=timezone.now())
    if not used:
        return False
    remaining = recovery_codes_left(user_id=user.pk)
    audit_event("recovery_code_used", request=request, user_id=user.pk, remaining=remaining)
    signin_change_announce(
        user_id=user.pk,
        change=RECOVERY_CODE_USED,
        request=request,
        detail=f"{remaining} of your recovery codes {'is' if remaining == 1 else 'are'} left.",
    )
    return True


def mfa_code_use(*, user: UserModel, code: str, request: HttpRequest) -> str | None:
    """Use a code of the user's app, else one of their recovery codes; which, or None if neither.

    Either works once: an app's code not again, nor any code of an earlier step.
    """
    device = TotpDevice.objects.filter(user_id=user.pk, confirmed_at__isnull=False).first()
    if device is not None and _totp_step_use(device=device, code=code):
        return TOTP
    if _recovery_code_use(user=user, code=code, request=request):
        return RECOVERY_CODE
    return None


def mfa_code_confirm(
    *, user: UserModel, code: str, request: HttpRequest, device_token: str = ""
) -> str:
    """Check a second-factor code of `user`, counted as a login attempt; which factor it was.

    A wrong one is a 400 `mfa_code_not_valid`, and counts like a wrong password: against a
    known device (`device_token`, else the device cookie) as at login.
    """
    counters = login_attempt_reserve(
        username=user.get_username(),
        request=request,
        device_token=login_device_token(request=request, device_token=device_token),
    )
    method = mfa_code_use(user=user, code=code, request=request)
    if method is None:
        audit_event("mfa_failed", request=request, user_id=user.pk)
        raise MfaCodeNotValid()
    login_attempt_release(counters)
    return method


def mfa_factor_removed(*, user_id: UserId, request: HttpRequest | None = None) -> bool:
    """After a factor went: whether it was the last, in which case its recovery codes went."""
    factors = mfa_factors(user_id=user_id)
    if factors["totp"] or factors["passkeys"]:
        return False
    RecoveryCode.objects.filter(user_id=user_id).delete()
    audit_event("mfa_disabled", request=request, user_id=user_id)
    return True
