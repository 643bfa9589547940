"""System checks: the JWT keys are usable and distinct from SECRET_KEY; the cache is shared."""

from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.checks import CheckMessage, Error, Tags, register
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import PyJWTError
from rest_framework_simplejwt import settings as simplejwt_settings

from common.cache import ALIAS
from common.conf import dualauth_settings
from jwt_auth.keys import HMAC_ALGORITHMS, key_set, verifying_key_texts

# RFC 7518 3.2: an HMAC key at least as long as the hash output.
MIN_HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
MIN_RSA_KEY_BITS = 2048
# Caches that each process keeps to itself, or that keep nothing: behind several workers,
# a revocation or a failed login counted in one is unseen in the others.
PROCESS_LOCAL_CACHES = (LocMemCache, DummyCache)


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


@register(Tags.security, deploy=True)
def shared_cache_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a process-local cache of revocations, counters or sessions, unless allowed."""
    if dualauth_settings.ALLOW_PROCESS_LOCAL_CACHE:
        return []
    local = sorted(
        alias
        for alias in {ALIAS, settings.SESSION_CACHE_ALIAS}
        if isinstance(caches[alias], PROCESS_LOCAL_CACHES)
    )
    if not local:
        return []
    names, verb = " and ".join(map(repr, local)), "are" if len(local) > 1 else "is"
    return [
        Error(
            f"CACHES {names} {verb} not shared between processes: each process would keep "
            "its own revocations, sessions and failed-login counts.",
            hint="Set REDIS_URL, or run one process only and set ALLOW_PROCESS_LOCAL_CACHE=true.",
            id="dualauth.E006",
        )
    ]
