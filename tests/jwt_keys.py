"""Key material and a raw JWS signer for tests that forge tokens the way an attacker would."""

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import HMACAlgorithm, get_default_algorithms

PEM = serialization.Encoding.PEM


def rsa_private_pem(bits: int = 2048) -> str:
    """A fresh RSA private key, PKCS#8 PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def ed25519_private_pem() -> str:
    """A fresh Ed25519 private key, PKCS#8 PEM."""
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(private_pem: str) -> str:
    """The SubjectPublicKeyInfo PEM of a private key PEM."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key().public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    )


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWS uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: Any) -> str:
    """A JSON value as a JWS segment."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def segment_decode(segment: str) -> dict[str, Any]:
    """The JSON object of a JWS segment."""
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return value


def jws_sign(header: dict[str, Any], payload: dict[str, Any], key: str | bytes) -> str:
    """Sign a compact JWS with no checks at all: any header, any claim, any key.

    The algorithm is `header["alg"]`; for HMAC the key is used as raw bytes, so that a
    PEM public key can serve as the secret (PyJWT refuses that on purpose).
    """
    message = f"{b64url_json(header)}.{b64url_json(payload)}".encode()
    algorithm = get_default_algorithms()[header["alg"]]
    if isinstance(algorithm, HMACAlgorithm):
        signature = algorithm.sign(message, key.encode() if isinstance(key, str) else key)
    else:
        signature = algorithm.sign(message, algorithm.prepare_key(key))
    return f"{message.decode()}.{b64url(signature)}"


def jws_unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A compact JWS with an empty signature, as `alg: none` tokens are."""
    return f"{b64url_json(header)}.{b64url_json(payload)}."
