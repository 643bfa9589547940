"""Reads of second factors: which a user has, and how many recovery codes are left."""

from common.mfa.models import RecoveryCode, TotpDevice
from common.mfa.webauthn.selectors import passkey_count
from common.principal import UserId

TOTP, RECOVERY_CODE, WEBAUTHN = "totp", "recovery_code", "webauthn"


def totp_enabled(*, user_id: UserId) -> bool:
    """Whether the user has a confirmed authenticator app."""
    return TotpDevice.objects.filter(user_id=user_id, confirmed_at__isnull=False).exists()


def recovery_codes_left(*, user_id: UserId) -> int:
    """How many of the user's recovery codes are unused."""
    return RecoveryCode.objects.filter(user_id=user_id, used_at__isnull=True).count()


def mfa_factors(*, user_id: UserId) -> dict[str, bool | int]:
    """The account page's `mfa` block: an app, how many passkeys, how many recovery codes."""
    return {
        "totp": totp_enabled(user_id=user_id),
        "passkeys": passkey_count(user_id=user_id),
        "recovery_codes_left": recovery_codes_left(user_id=user_id),
    }


def mfa_methods(*, user_id: UserId) -> list[str]:
    """How the user may complete a login with a second factor; empty when they have none.

    Recovery codes stand in for the other factors, never alone.
    """
    factors = mfa_factors(user_id=user_id)
    has_factor = bool(factors["totp"] or factors["passkeys"])
    return [
        method
        for method, offered in (
            (TOTP, factors["totp"]),
            (RECOVERY_CODE, has_factor and factors["recovery_codes_left"]),
            (WEBAUTHN, factors["passkeys"]),
        )
        if offered
    ]
