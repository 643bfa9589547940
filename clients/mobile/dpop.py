"""The client's DPoP key (RFC 9449): a P-256 key pair that signs one proof per request.

A copy of the tokens without this key is worth nothing against a server that bound them
to it. An app keeps the key where it cannot be read out (the Secure Enclave, the Android
Keystore; see the README); this client keeps it in a 0600 file beside its tokens.
"""

import base64
import hashlib
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ALGORITHM = "ES256"
PROOF_TYPE = "dpop+jwt"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DpopKey:
    """A P-256 private key, and the proofs it signs."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self._private_key = private_key
        self.jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
        members = {name: self.jwk[name] for name in ("crv", "kty", "x", "y")}
        canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
        # RFC 7638: what the server binds a login to (`cnf.jkt`).
        self.thumbprint = _b64url(hashlib.sha256(canonical.encode()).digest())

    @classmethod
    def generate(cls) -> "DpopKey":
        """A new key pair."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, pem: bytes) -> "DpopKey":
        """The key a PEM (PKCS #8, unencrypted) holds; ValueError for anything else."""
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("not a P-256 private key")
        return cls(key)

    def to_pem(self) -> bytes:
        """The private key as a PEM (PKCS #8, unencrypted: the file's mode protects it)."""
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def proof(
        self,
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        nonce: str | None = None,
        now: float | None = None,
    ) -> str:
        """A proof for one request: `url` without its query, `ath` when a token goes with it."""
        claims: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": method.upper(),
            "htu": url.split("?", 1)[0].split("#", 1)[0],
            "iat": int(time.time() if now is None else now),
        }
        if access_token is not None:
            claims["ath"] = _b64url(hashlib.sha256(access_token.encode()).digest())
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(
            claims,
            self._private_key,
            algorithm=ALGORITHM,
            headers={"typ": PROOF_TYPE, "jwk": self.jwk},
        )
