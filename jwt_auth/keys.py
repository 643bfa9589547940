"""Signing and verification keys, each named by a `kid`, and their public JWKS."""

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jwt.algorithms import get_default_algorithms
from rest_framework_simplejwt import settings as simplejwt_settings

from common.conf import dualauth_settings

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
# Deterministic signatures only: a refresh retried within the grace window must get
# the very same token back, re-derived rather than stored (ECDSA signs with a random nonce).
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "EdDSA"})
PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


@dataclass(frozen=True)
class KeySet:
    """The key that signs new tokens, and every key that still verifies."""

    algorithm: str
    kid: str
    signing_key: Any
    verifying_keys: dict[str, Any]
    public_jwks: list[dict[str, Any]] = field(default_factory=list)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hmac_kid(secret: str) -> str:
    return _b64(hashlib.sha256(b"dualauth-kid:" + secret.encode()).digest()[:12])


def _thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of a public JWK."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _public_key(algorithm: str, pem: str) -> Any:
    key = get_default_algorithms()[algorithm].prepare_key(pem)
    return key.public_key() if hasattr(key, "private_bytes") else key


def _public_jwk(algorithm: str, public_key: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = get_default_algorithms()[algorithm].to_jwk(public_key, as_dict=True)
    return {**jwk, "kid": _thumbprint(jwk), "alg": algorithm, "use": "sig"}


def _key_texts(algorithm: str, signing: str, previous: str) -> list[str]:
    """The verifying keys as configured: the signing key, then each previous key in order."""
    if algorithm in HMAC_ALGORITHMS:
        return [signing, *(line.strip() for line in previous.splitlines() if line.strip())]
    return [signing, *PEM_BLOCK.findall(previous)]


def _build(algorithm: str, signing: str, previous: str) -> KeySet:
    if algorithm in HMAC_ALGORITHMS:
        secrets = _key_texts(algorithm, signing, previous)
        return KeySet(
            algorithm=algorithm,
            kid=_hmac_kid(signing),
            signing_key=signing,
            verifying_keys={_hmac_kid(secret): secret for secret in secrets},
        )
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        raise ValueError(
            f"JWT algorithm {algorithm!r} is not supported; use one of "
            f"{sorted(HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS)}"
        )
    pems = _key_texts(algorithm, signing, previous)
    jwks = [_public_jwk(algorithm, _public_key(algorithm, pem)) for pem in pems]
    return KeySet(
        algorithm=algorithm,
        kid=jwks[0]["kid"],
        signing_key=get_default_algorithms()[algorithm].prepare_key(signing),
        verifying_keys={
            jwk["kid"]: _public_key(algorithm, pem) for jwk, pem in zip(jwks, pems, strict=True)
        },
        public_jwks=jwks,
    )


@cache
def _cached(algorithm: str, signing: str, previous: str) -> KeySet:
    return _build(algorithm, signing, previous)


def key_set() -> KeySet:
    """The configured keys, parsed once per configuration."""
    jwt = simplejwt_settings.api_settings
    return _cached(jwt.ALGORITHM, jwt.SIGNING_KEY, dualauth_settings.JWT_PREVIOUS_KEYS)


def verifying_key_texts() -> list[str]:
    """The configured verifying keys as written: the signing key first, then the previous keys."""
    jwt = simplejwt_settings.api_settings
    return _key_texts(jwt.ALGORITHM, jwt.SIGNING_KEY, dualauth_settings.JWT_PREVIOUS_KEYS)
