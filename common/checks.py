"""System checks: the JWT keys are usable and distinct from SECRET_KEY."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from jwt.exceptions import PyJWTError
from rest_framework_simplejwt import settings as simplejwt_settings

from jwt_auth.keys import HMAC_ALGORITHMS, key_set

# RFC 7518 3.2: an HMAC key at least as long as the hash output.
MIN_HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
MIN_RSA_KEY_BITS = 2048


@register("security")
def jwt_keys_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a missing, short or shared signing key and an unsupported algorithm."""
    jwt = simplejwt_settings.api_settings
    if not jwt.SIGNING_KEY:
        return [Error("JWT_SIGNING_KEY is not set.", id="dualauth.E001")]
    if jwt.SIGNING_KEY == settings.SECRET_KEY:
        return [Error("JWT_SIGNING_KEY must not be SECRET_KEY.", id="dualauth.E002")]
    try:
        keys = key_set()
    except (ValueError, TypeError, PyJWTError) as e:
        return [Error(f"JWT keys cannot be used: {e}", id="dualauth.E003")]
    if keys.algorithm in HMAC_ALGORITHMS:
        shortest = min(len(secret.encode()) for secret in keys.verifying_keys.values())
        if shortest < MIN_HMAC_KEY_BYTES[keys.algorithm]:
            bits = MIN_HMAC_KEY_BYTES[keys.algorithm] * 8
            return [
                Error(
                    f"Every {keys.algorithm} key must be at least {bits} bits.", id="dualauth.E004"
                )
            ]
    size = getattr(keys.signing_key, "key_size", MIN_RSA_KEY_BITS)
    if size < MIN_RSA_KEY_BITS:
        return [Error("An RSA signing key must be at least 2048 bits.", id="dualauth.E005")]
    return []
