"""The relying party, and py_webauthn's ceremonies with every failure as one exception."""

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from django.http import HttpRequest
from django.http.request import split_domain_port
from webauthn import verify_authentication_response, verify_registration_response
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authentication_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.registration.verify_registration_response import VerifiedRegistration

from common.conf import dualauth_settings

# py_webauthn raises its own exceptions for most malformed answers, but 3.0.1 lets
# Python's escape from some attacker-made input: a COSE key without its members or of
# the wrong CBOR type, a point off the curve, a userHandle that is not base64url, an
# attestation certificate that does not parse.
MALFORMED = (WebAuthnException, LookupError, TypeError, ValueError, UnsupportedAlgorithm)
# The longest credential id WebAuthn Level 3 allows (and the column holds).
MAX_CREDENTIAL_ID_LENGTH = 1023


class CeremonyRefused(Exception):
    """An answer of an authenticator that does not verify; the message says why, for the log."""


@dataclass(frozen=True)
class RelyingParty:
    """Who passkeys are made for: an RP id (a domain), its name, and the origins they work from."""

    id: str
    name: str
    origins: list[str]


def relying_party(*, request: HttpRequest) -> RelyingParty:
    """The relying party of the settings, else of the site `request` reached.

    The request's host is one ALLOWED_HOSTS accepts, so a client cannot name its own.
    """
    host = request.get_host()
    domain, _ = split_domain_port(host)
    return RelyingParty(
        id=dualauth_settings.WEBAUTHN_RP_ID or domain,
        name=dualauth_settings.WEBAUTHN_RP_NAME,
        origins=list(dualauth_settings.WEBAUTHN_ORIGINS) or [f"{request.scheme}://{host}"],
    )


def registration_verify(
    *, rp: RelyingParty, credential: Any, challenge: bytes
) -> VerifiedRegistration:
    """The new credential of a `navigator.credentials.create()` answer, user verified; else
    CeremonyRefused.
    """
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origins,
            require_user_verification=True,
        )
        # A key that cannot be loaded now would fail every login with it: refuse it here.
        decoded_public_key_to_cryptography(
            decode_credential_public_key(verified.credential_public_key)
        )
    except MALFORMED as e:
        raise CeremonyRefused(f"registration: {e}") from e
    if len(verified.credential_id) > MAX_CREDENTIAL_ID_LENGTH:
        raise CeremonyRefused("registration: credential id too long")
    return verified


def assertion_parse(credential: Any) -> tuple[bytes, bytes | None]:
    """The credential id and user handle a `navigator.credentials.get()` answer names; else
    CeremonyRefused. Nothing is verified yet.
    """
    try:
        parsed = parse_authentication_credential_json(credential)
    except MALFORMED as e:
        raise CeremonyRefused(f"assertion: {e}") from e
    return parsed.raw_id, parsed.response.user_handle


def assertion_verify(
    *, rp: RelyingParty, credential: Any, challenge: bytes, public_key: bytes, sign_count: int
) -> VerifiedAuthentication:
    """The verified `navigator.credentials.get()` answer of the credential with `public_key`,
    user verified, its counter past `sign_count` (unless both are 0); else CeremonyRefused.
    """
    try:
        return verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origins,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except MALFORMED as e:
        raise CeremonyRefused(f"assertion: {e}") from e
