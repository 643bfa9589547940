"""A software WebAuthn authenticator with its browser, for tests: `navigator.credentials` answers.

It answers `create` and `get` with the JSON a browser's `PublicKeyCredential.toJSON()`
gives, from ES256 (P-256) credentials it keeps, with "none" attestation or a statement of
another format (FORMATS). Unlike a real browser it does what the test asks: another
origin, another RP id, no user verification, any sign count, so that each refusal of the
relying party can be shown.
"""

import base64
import hashlib
import json
import secrets
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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
        fmt: str = "none",
    ) -> dict[str, Any]:
        """Answer `navigator.credentials.create({publicKey: options})` from `origin`.

        `rp_id` makes the authenticator scope the credential to another RP id than the
        options name (a browser would refuse); `challenge` signs another challenge; `fmt`
        attests the credential in another format of FORMATS.
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
        statement = FORMATS[fmt](credential, auth_data, hashlib.sha256(client_data).digest())
        attestation = cbor2.dumps({"fmt": fmt, "attStmt": statement, "authData": auth_data})
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


# Attestation statements (WebAuthn Level 2, section 8), each in its format's layout over the
# credential, its authenticator data and the client data's hash. Their certificates are made
# here, so none chains to a vendor's root: "packed" (self attestation), "fido-u2f" and "tpm"
# verify wholly (the site names no root of its own), the others reach their format's last
# checks and are refused there.
Statement = Callable[[SoftCredential, bytes, bytes], dict[str, Any]]
# The key that signs every attestation certificate and the statements that are not the
# credential's own, made once: a P-256 key is cheap, but not free.
_ATTESTATION_KEY = ec.generate_private_key(ec.SECP256R1())
# Where Apple's and Android's certificates carry the challenge, and a TPM's names its vendor.
APPLE_NONCE = x509.ObjectIdentifier("1.2.840.113635.100.8.2")
ANDROID_KEY_DESCRIPTION = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.1.17")
TCG_MANUFACTURER, TCG_MODEL, TCG_VERSION = (
    x509.ObjectIdentifier(f"2.23.133.2.{n}") for n in (1, 2, 3)
)
TCG_KP_AIK_CERTIFICATE = x509.ObjectIdentifier("2.23.133.8.3")


def certificate(
    public_key: Any,
    *,
    subject: x509.Name | None = None,
    extensions: Sequence[x509.ExtensionType] = (),
) -> bytes:
    """A DER certificate of `public_key` with `extensions`, issued by the attestation key."""
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject if subject is not None else _name("Soft Authenticator"))
        .issuer_name(_name("Soft Attestation CA"))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    cert = builder.sign(_ATTESTATION_KEY, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _packed(credential: SoftCredential, auth_data: bytes, client_hash: bytes) -> dict[str, Any]:
    """Self attestation: the credential signs its own creation."""
    return {"alg": COSE_ES256, "sig": _sign(credential.private_key, auth_data + client_hash)}


def _fido_u2f(credential: SoftCredential, auth_data: bytes, client_hash: bytes) -> dict[str, Any]:
    numbers = credential.private_key.public_key().public_numbers()
    point = b"\x04" + numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
    signed = b"\x00" + auth_data[:32] + client_hash + credential.credential_id + point
    return {
        "sig": _sign(_ATTESTATION_KEY, signed),
        "x5c": [certificate(_ATTESTATION_KEY.public_key())],
    }


def _android_key(
    credential: SoftCredential, auth_data: bytes, client_hash: bytes
) -> dict[str, Any]:
    """The credential's own certificate, without Android's key description in it, and its root."""
    authority = certificate(
        _ATTESTATION_KEY.public_key(),
        subject=_name("Soft Attestation CA"),
        extensions=[x509.BasicConstraints(ca=True, path_length=None)],
    )
    return {
        "alg": COSE_ES256,
        "sig": _sign(credential.private_key, auth_data + client_hash),
        "x5c": [certificate(credential.private_key.public_key()), authority],
    }


def _android_safetynet(
    credential: SoftCredential, auth_data: bytes, client_hash: bytes
) -> dict[str, Any]:
    """A SafetyNet JWS for attest.android.com, in its compact form (as bytes)."""
    header = {
        "alg": "RS256",
        "x5c": [
            base64.b64encode(
                certificate(_ATTESTATION_KEY.public_key(), subject=_name("attest.android.com"))
            ).decode()
        ],
    }
    payload = {
        "nonce": base64.b64encode(hashlib.sha256(auth_data + client_hash).digest()).decode(),
        "timestampMs": int(time.time() * 1000),
        "apkPackageName": "com.google.android.gms",
        "ctsProfileMatch": True,
        "basicIntegrity": True,
    }
    return {"ver": "1", "response": jws(header, payload, b"not an RS256 signature")}


def jws(header: Any, payload: Any, signature: bytes) -> bytes:
    """A compact JWS of JSON `header` and `payload`, as bytes."""
    parts = (json.dumps(header).encode(), json.dumps(payload).encode(), signature)
    return ".".join(b64url(part) for part in parts).encode()


def _tpm(credential: SoftCredential, auth_data: bytes, client_hash: bytes) -> dict[str, Any]:
    """A TPM 2.0 quote of the credential's ECC key (TPM 2.0 Part 2, 12.2.4 and 10.12.8)."""
    numbers = credential.private_key.public_key().public_numbers()
    x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
    # TPM_ALG_ECC, nameAlg SHA256, attributes, no policy; null symmetric and scheme, NIST
    # P-256, null KDF; the point.
    pub_area = (
        bytes.fromhex("0023 000b 00060472 0000 0010 0010 0003 0010")
        + struct.pack(">H", 32)
        + x
        + struct.pack(">H", 32)
        + y
    )
    extra = hashlib.sha256(auth_data + client_hash).digest()
    name = b"\x00\x0b" + hashlib.sha256(pub_area).digest()
    # TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY, no qualified signer; clock, firmware.
    cert_info = (
        bytes.fromhex("ff544347 8017 0000")
        + struct.pack(">H", len(extra))
        + extra
        + bytes(17 + 8)
        + struct.pack(">H", len(name))
        + name
        + struct.pack(">H", 0)
    )
    vendor = x509.Name(
        [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(TCG_MANUFACTURER, "id:49465800"),
                    x509.NameAttribute(TCG_MODEL, "Soft TPM"),
                    x509.NameAttribute(TCG_VERSION, "id:0001"),
                ]
            )
        ]
    )
    aik = certificate(
        _ATTESTATION_KEY.public_key(),
        subject=x509.Name([]),
        extensions=[
            x509.SubjectAlternativeName([x509.DirectoryName(vendor)]),
            x509.ExtendedKeyUsage([TCG_KP_AIK_CERTIFICATE]),
            x509.BasicConstraints(ca=False, path_length=None),
        ],
    )
    return {
        "ver": "2.0",
        "alg": COSE_ES256,
        "x5c": [aik],
        "sig": _sign(_ATTESTATION_KEY, cert_info),
        "certInfo": cert_info,
        "pubArea": pub_area,
    }


def _apple(credential: SoftCredential, auth_data: bytes, client_hash: bytes) -> dict[str, Any]:
    """The credential's certificate with the nonce where Apple's anonymous attestation has it."""
    nonce = hashlib.sha256(auth_data + client_hash).digest()
    # SEQUENCE { [1] { OCTET STRING nonce } }
    value = bytes([0x30, 36, 0xA1, 34, 0x04, 32]) + nonce
    cert = certificate(
        credential.private_key.public_key(),
        extensions=[x509.UnrecognizedExtension(APPLE_NONCE, value)],
    )
    return {"alg": COSE_ES256, "x5c": [cert]}


FORMATS: dict[str, Statement] = {
    "none": lambda credential, auth_data, client_hash: {},
    "packed": _packed,
    "fido-u2f": _fido_u2f,
    "android-key": _android_key,
    "android-safetynet": _android_safetynet,
    "tpm": _tpm,
    "apple": _apple,
}


def attestation_edit(
    answer: dict[str, Any], edit: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """`answer` with its attestation object (`fmt`, `attStmt`, `authData`) changed by `edit`."""
    attestation = cbor2.loads(b64url_decode(answer["response"]["attestationObject"]))
    edit(attestation)
    encoded = b64url(cbor2.dumps(attestation))
    return {**answer, "response": {**answer["response"], "attestationObject": encoded}}


def _client_data(ceremony: str, challenge: str, origin: str) -> bytes:
    """The clientDataJSON a browser serializes, in its member order."""
    return json.dumps(
        {"type": ceremony, "challenge": challenge, "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode()


def _host(origin: str) -> str:
    return origin.split("://", 1)[-1].split(":", 1)[0].split("/", 1)[0]
