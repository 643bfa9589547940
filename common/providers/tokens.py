"""The check of a provider's ID token (OpenID Connect Core 3.1.3.7), by PyJWT.

The key comes from the provider's JWKS by the token's `kid`, never from the token itself;
only asymmetric algorithms are accepted, and only the one the key is for.
"""

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError

from common.conf import dualauth_settings
from common.providers.exceptions import ProviderTokenNotValid, ProviderUnavailable
from common.providers.registry import Provider, provider_jwks_client

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# The algorithms of each key type, for a key that names none.
KEY_TYPE_ALGORITHMS = {"RSA": ("RS", "PS"), "EC": ("ES",), "OKP": ("EdDSA",)}
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat"]
# Longer than any ID token a provider sends; longer ones are refused unread.
MAX_TOKEN_LENGTH = 16384


class TokenRefused(Exception):
    """An ID token that does not pass, with why: for the audit, never for the client."""


def id_token_verify(*, provider: Provider, id_token: str, nonce: str) -> dict[str, Any]:
    """The claims of `id_token` once it passes every check for `provider` and `nonce`.

    400 `provider_token_not_valid` when it does not (the reason is in TokenRefused, its
    cause); 503 `provider_unavailable` when the provider's keys cannot be had.
    """
    try:
        return _verify(provider=provider, id_token=id_token, nonce=nonce)
    except TokenRefused as e:
        raise ProviderTokenNotValid() from e


def _verify(*, provider: Provider, id_token: str, nonce: str) -> dict[str, Any]:
    if len(id_token) > MAX_TOKEN_LENGTH:
        raise TokenRefused("too long")
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as e:
        raise TokenRefused(f"malformed: {e}") from e
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in ASYMMETRIC:
        raise TokenRefused(f"algorithm {algorithm!r} refused")
    if not isinstance(kid, str) or not kid:
        raise TokenRefused("no key id")
    client = provider_jwks_client(provider)
    try:
        key = client.get_signing_key(kid)
    except PyJWKClientConnectionError as e:
        raise ProviderUnavailable() from e
    except (PyJWKClientError, PyJWKSetError) as e:
        raise TokenRefused(f"unknown key id: {e}") from e
    if not _key_is_for(key, algorithm):
        raise TokenRefused(f"algorithm {algorithm!r} is not the key's")
    leeway = dualauth_settings.PROVIDER_LEEWAY
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key=key,
            algorithms=[algorithm],
            audience=list(provider.client_ids),
            issuer=provider.issuer,
            leeway=leeway,
            options={"require": REQUIRED_CLAIMS, "strict_aud": False},
        )
    except jwt.PyJWTError as e:
        raise TokenRefused(f"{type(e).__name__}: {e}") from e
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise TokenRefused("no subject")
    issued_at = datetime.fromtimestamp(claims["iat"], tz=UTC)
    if issued_at > datetime.now(tz=UTC) + leeway:
        raise TokenRefused("issued in the future")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    if (azp is not None or len(audiences) > 1) and azp not in provider.client_ids:
        raise TokenRefused("authorized party not ours")
    if not nonce_matches(claim=claims.get("nonce"), nonce=nonce):
        raise TokenRefused("nonce does not match")
    return claims


def _key_is_for(key: PyJWK, algorithm: str) -> bool:
    """Whether `key` signs with `algorithm`: its `alg` when it names one, else its type's."""
    named = key._jwk_data.get("alg")
    if named:
        return bool(named == algorithm)
    return algorithm.startswith(KEY_TYPE_ALGORITHMS.get(str(key.key_type), ("-",)))


def nonce_matches(*, claim: Any, nonce: str) -> bool:
    """Whether the token's `nonce` claim is `nonce`, or its SHA-256 in hex (Apple's SDKs)."""
    if not isinstance(claim, str) or not nonce:
        return False
    hashed = hashlib.sha256(nonce.encode()).hexdigest()
    return hmac.compare_digest(claim.encode(), nonce.encode()) or hmac.compare_digest(
        claim.lower().encode(), hashed.encode()
    )


def email_verified(claims: dict[str, Any]) -> bool:
    """Whether the provider vouches for the token's address: true, or Apple's string "true"."""
    value = claims.get("email_verified")
    return value is True or value == "true"
