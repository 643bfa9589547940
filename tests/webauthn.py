"""A software WebAuthn authenticator with its browser, for tests: `navigator.credentials` answers.

It answers `create` and `get` with the JSON a browser's `PublicKeyCredential.toJSON()`
gives, from ES256 (P-256) credentials it keeps, with "none" attestation. Unlike a real
browser it does what the test asks: another origin, another RP id, no user verification,
any sign count, so that each refusal of the relying party can be shown.
"""

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Flags of the authenticator data (WebAuthn Level 2, section 6.1).
USER_PRESENT, USER_VERIFIED, BACKUP_ELIGIBLE, BACKED_UP, ATTESTED = 0x01, 0x04, 0x08, 0x10, 0x40
# COSE: key type EC2, algorithm ES256, curve P-256.
COSE_EC2, COSE_ES256, COSE_P256 = 2, -7, 1
# "None" attestation carries no authenticator model: an AAGUID of zeros.
AAGUID = bytes(16)
# `user_handle=SAME`: the handle the credential was made with, as an authenticator answers.
SAME: Any = object()


def b64url(data: bytes) -> str:
    """Base64url without padding, as WebAuthn's JSON carries bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """The bytes of a base64url string, padded or not."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AuthenticatorRefused(Exception):
    """What a browser rejects with InvalidStateError or NotAllowedError: nothing to answer with."""


@dataclass
class SoftCredential:
    """One credential the authenticator keeps, discoverable, scoped to its RP id."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        """The public key as the COSE_Key that attested credential data carries."""
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: COSE_EC2,
                3: COSE_ES256,
                -1: COSE_P256,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


class SoftAuthenticator:
    """A platform authenticator that keeps ES256 credentials, with the browser around it."""

    def __init__(self, *, sign_counter: bool = True, backup_eligible: bool = False) -> None:
        # Passkeys that sync (backup eligible) commonly keep no counter and always say 0.
        self.sign_counter = sign_counter
        self.backup_eligible = backup_eligible
        self.credentials: dict[bytes, SoftCredential] = {}

    def register(
        self,
        options: dict[str, Any],
        origin: str,
        *,
        rp_id: str | None = None,
        user_verified: bool = True,
        user_present: bool = True,
        challenge: str | None = None,
        ceremony: str = "webauthn.create",
    ) -> dict[str, Any]:
        """Answer `navigator.credentials.create({publicKey: options})` from `origin`.

        `rp_id` makes the authenticator scope the credential to another RP id than the
        options name (a browser would refuse); `challenge` signs another challenge.
        """
        scope = rp_id if rp_id is not None else options["rp"].get("id") or _host(origin)
        for excluded in options.get("excludeCredentials", []):
            if b64url_decode(excluded["id"]) in self.credentials:
                raise AuthenticatorRefused("a credential of excludeCredentials is on it")
        credential = SoftCredential(
            credential_id=secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=scope,
            user_handle=b64url_decode(options["user"]["id"]),
        )
        self.credentials[credential.credential_id] = credential
        client_data = _client_data(ceremony, challenge or options["challenge"], origin)
        attested = (
            AAGUID
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + credential.cose_public_key()
        )
        auth_data = self._auth_data(
            credential,
            flags=ATTESTED | self._flags(user_verified=user_verified, user_present=user_present),
            sign_count=0,
            attested=attested,
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        public_key = credential.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "authenticatorData": b64url(auth_data),
                "transports": ["internal", "hybrid"],
                "publicKeyAlgorithm": COSE_ES256,
                "publicKey": b64url(public_key),
            },
        }

    def authenticate(
        self,
        options: dict[str, Any],
        origin: str,
        *,
        rp_id: str | None = None,
        user_verified: bool = True,
        user_present: bool = True,
        sign_count: int | None = None,
        user_handle: Any = SAME,
        credential_id: bytes | None = None,
        challenge: str | None = None,
        ceremony: str = "webauthn.get",
    ) -> dict[str, Any]:
        """Answer `navigator.credentials.get({publicKey: options})` from `origin`.

        The credential is `credential_id`, else the first of `allowCredentials` it holds,
        else (a discoverable login) its only credential for the RP id. Its counter goes up
        by one, unless `sign_count` sets what it says (and keeps). `user_handle`: the
        credential's own by default, None for none, or other bytes.
        """
        credential = self._pick(options, credential_id)
        if sign_count is None:
            credential.sign_count += 1 if self.sign_counter else 0
        else:
            credential.sign_count = sign_count
        scope = rp_id if rp_id is not None else credential.rp_id
        client_data = _client_data(ceremony, challenge or options["challenge"], origin)
        auth_data = self._auth_data(
            credential,
            flags=self._flags(user_verified=user_verified, user_present=user_present),
            sign_count=credential.sign_count,
            rp_id=scope,
        )
        signature = credential.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        handle = credential.user_handle if user_handle is SAME else user_handle
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": None if handle is None else b64url(handle),
            },
        }

    def _pick(self, options: dict[str, Any], credential_id: bytes | None) -> SoftCredential:
        if credential_id is not None:
            return self.credentials[credential_id]
        for allowed in options.get("allowCredentials", []):
            found = self.credentials.get(b64url_decode(allowed["id"]))
            if found is not None:
                return found
        if options.get("allowCredentials"):
            raise AuthenticatorRefused("none of allowCredentials is on it")
        scoped = [c for c in self.credentials.values() if c.rp_id == options.get("rpId")]
        if len(scoped) != 1:
            raise AuthenticatorRefused(f"{len(scoped)} discoverable credentials for the RP id")
        return scoped[0]

    def _flags(self, *, user_verified: bool, user_present: bool) -> int:
        flags = USER_PRESENT if user_present else 0
        if user_verified:
            flags |= USER_VERIFIED
        if self.backup_eligible:
            flags |= BACKUP_ELIGIBLE | BACKED_UP
        return flags

    def _auth_data(
        self,
        credential: SoftCredential,
        *,
        flags: int,
        sign_count: int,
        attested: bytes = b"",
        rp_id: str | None = None,
    ) -> bytes:
        rp_id_hash = hashlib.sha256((rp_id or credential.rp_id).encode()).digest()
        return rp_id_hash + bytes([flags]) + struct.pack(">I", sign_count) + attested


def _client_data(ceremony: str, challenge: str, origin: str) -> bytes:
    """The clientDataJSON a browser serializes, in its member order."""
    return json.dumps(
        {"type": ceremony, "challenge": challenge, "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode()


def _host(origin: str) -> str:
    return origin.split("://", 1)[-1].split(":", 1)[0].split("/", 1)[0]
