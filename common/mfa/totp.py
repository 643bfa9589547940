"""Authenticator apps (RFC 6238, through pyotp): secrets encrypted at rest, codes to steps."""

import io
import time

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pyotp.utils import strings_equal

from common.conf import dualauth_settings
from common.exceptions import MfaNotConfigured

# RFC 6238's defaults, which every authenticator app reads: 6 digits, 30 s steps, SHA-1.
DIGITS, STEP_SECONDS = 6, 30
# A code of the step before or after the current one is accepted: clocks drift.
DRIFT_STEPS = 1


def _fernet() -> MultiFernet:
    keys = dualauth_settings.MFA_ENCRYPTION_KEYS
    if not keys:
        raise MfaNotConfigured()
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as e:
        raise MfaNotConfigured() from e


def totp_secret_new() -> str:
    """A new random secret (160 bits, base32), as RFC 4226 recommends."""
    return pyotp.random_base32(32)


def totp_secret_encrypt(secret: str) -> str:
    """`secret` encrypted under the first MFA encryption key."""
    return _fernet().encrypt(secret.encode()).decode()


def totp_secret_decrypt(encrypted: str) -> str:
    """The secret `encrypted` holds, under any of the MFA encryption keys."""
    try:
        return _fernet().decrypt(encrypted.encode()).decode()
    except InvalidToken as e:
        raise MfaNotConfigured("This server can no longer read its authenticator secrets.") from e


def totp_code_step(*, secret: str, code: str, now: float | None = None) -> int | None:
    """The time step, of those around `now`, whose code `code` is; None if none's."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(time.time() if now is None else now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if strings_equal(code, totp.generate_otp(step)):
            return step
    return None


def totp_provisioning(*, secret: str, account: str) -> tuple[str, str]:
    """The `otpauth://` URL of `secret` for `account`, and its QR code as an SVG document."""
    url = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=dualauth_settings.TOTP_ISSUER
    )
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", xmldecl=False, nl=False, scale=4)
    return url, buffer.getvalue().decode()
