"""System checks of the JWT mode's settings: its keys and its tokens' claims."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import PyJWTError
from rest_framework_simplejwt import settings as simplejwt_settings

from jwt_auth.keys import HMAC_ALGORITHMS, key_set, verifying_key_texts
from jwt_auth.tokens import FAMILY_CLAIM

# RFC 7518 3.2: an HMAC key at least as long as the hash output.
MIN_HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
MIN_RSA_KEY_BITS = 2048
# The claims a token carries with their own meaning: none of them can hold the user's id.
MEANINGFUL_CLAIMS = ("exp", "iat", "nbf", "jti", "iss", "aud", "token_type", FAMILY_CLAIM)
# The names jwt_auth/tokens.py requires and reads these claims under, whatever simplejwt says.
FIXED_CLAIMS = {
    "JTI_CLAIM": ("jti", "dualauth.E012"),
    "TOKEN_TYPE_CLAIM": ("token_type", "dualauth.E013"),
}


def _key_name(index: int) -> str:
    """How a message names the verifying key at `index`: the signing key comes first."""
    return "JWT_SIGNING_KEY" if index == 0 else f"JWT_PREVIOUS_KEYS key {index}"


def _key_strength_errors(algorithm: str, index: int, text: str) -> list[CheckMessage]:
    """A usable key's errors: an HMAC key shorter than its hash, an RSA key under 2048 bits."""
    if algorithm in HMAC_ALGORITHMS:
        if len(text.encode()) >= MIN_HMAC_KEY_BYTES[algorithm]:
            return []
        bits = MIN_HMAC_KEY_BYTES[algorithm] * 8
        return [
            Error(
                f"{_key_name(index)} is shorter than {bits} bits, the least for {algorithm}.",
                id="dualauth.E004",
            )
        ]
    size = getattr(get_default_algorithms()[algorithm].prepare_key(text), "key_size", None)
    if size is None or size >= MIN_RSA_KEY_BITS:
        return []
    return [
        Error(
            f"{_key_name(index)} is an RSA key of {size} bits; it must be at least "
            f"{MIN_RSA_KEY_BITS}.",
            id="dualauth.E005",
        )
    ]


@register("security")
def jwt_keys_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a missing, short or shared verifying key and an unsupported algorithm."""
    jwt = simplejwt_settings.api_settings
    if not jwt.SIGNING_KEY:
        return [Error("JWT_SIGNING_KEY is not set.", id="dualauth.E001")]
    texts = verifying_key_texts()
    # Without surrounding whitespace: a PEM is taken out of JWT_PREVIOUS_KEYS without
    # the newline that ends it where it was written.
    django_secrets = {
        secret.strip() for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    }
    shared: list[CheckMessage] = [
        Error(
            f"{_key_name(index)} must not be SECRET_KEY or one of SECRET_KEY_FALLBACKS.",
            id="dualauth.E002",
        )
        for index, text in enumerate(texts)
        if text.strip() in django_secrets
    ]
    if shared:
        return shared
    try:
        keys = key_set()
    except (ValueError, TypeError, PyJWTError) as e:
        return [Error(f"JWT keys cannot be used: {e}", id="dualauth.E003")]
    return [
        error
        for index, text in enumerate(texts)
        for error in _key_strength_errors(keys.algorithm, index, text)
    ]


@register("security")
def token_claims_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a user id claim that has another meaning, and renamed `jti` or `token_type`."""
    jwt = simplejwt_settings.api_settings
    errors: list[CheckMessage] = []
    if jwt.USER_ID_CLAIM in MEANINGFUL_CLAIMS:
        errors.append(
            Error(
                f"SIMPLE_JWT['USER_ID_CLAIM'] is {jwt.USER_ID_CLAIM!r}, a claim every token "
                "carries with another meaning: it cannot also hold the user's id.",
                hint='Set SIMPLE_JWT["USER_ID_CLAIM"] = "sub".',
                id="dualauth.E011",
            )
        )
    for name in ("ISSUER", "AUDIENCE"):
        if not isinstance(getattr(jwt, name), str) or not getattr(jwt, name):
            errors.append(
                Error(
                    f"SIMPLE_JWT[{name!r}] is {getattr(jwt, name)!r}: every token carries and "
                    "is checked against it, so it must be a non-empty string.",
                    hint=f'Set SIMPLE_JWT["{name}"], e.g. to your service\'s name.',
                    id="dualauth.E029",
                )
            )
    for name, (claim, error_id) in FIXED_CLAIMS.items():
        if getattr(jwt, name) != claim:
            errors.append(
                Error(
                    f"SIMPLE_JWT[{name!r}] is {getattr(jwt, name)!r}: dualauth's tokens "
                    f"require and read this claim as {claim!r}.",
                    hint=f"Remove {name} from SIMPLE_JWT, or set it to {claim!r}.",
                    id=error_id,
                )
            )
    return errors
