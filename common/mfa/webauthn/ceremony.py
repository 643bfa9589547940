"""The relying party, and py_webauthn's ceremonies with every failure as one exception."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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

logger = logging.getLogger("dualauth.passkeys")
# The longest credential id WebAuthn Level 3 allows (and the column holds).
MAX_CREDENTIAL_ID_LENGTH = 1023


class CeremonyRefused(Exception):
    """An answer of an authenticator that does not verify; the message says why, for the log."""


@contextmanager
def _untrusted(step: str) -> Iterator[None]:
    """Run py_webauthn on an answer a client sent: whatever it raises is CeremonyRefused.

    Its own exceptions (WebAuthnException) are its refusals. Any other comes from
    deeper in it, on input it does not check (3.0.1 calls `.decode` on a SafetyNet
    `response` that is text, `.get` on a JWS header that is a list, indexes an empty
    certificate list, ...): input alone reaches it, so it is a refusal too, never a
    500; it is logged with its traceback all the same, as it could be a bug of ours.
    """
    try:
        yield
    except WebAuthnException as e:
        raise CeremonyRefused(f"{step}: {e}") from e
    except Exception as e:
        logger.warning("passkeys: py_webauthn failed on a %s answer", step, exc_info=e)
        raise CeremonyRefused(f"{step}: {type(e).__name__}: {e}") from e


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
    with _untrusted("registration"):
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
    if len(verified.credential_id) > MAX_CREDENTIAL_ID_LENGTH:
        raise CeremonyRefused("registration: credential id too long")
    return verified


def assertion_parse(credential: Any) -> tuple[bytes, bytes | None]:
    """The credential id and user handle a `navigator.credentials.get()` answer names; else
    CeremonyRefused. Nothing is verified yet.
    """
    with _untrusted("assertion"):
        parsed = parse_authentication_credential_json(credential)
    return parsed.raw_id, parsed.response.user_handle


def assertion_verify(
    *, rp: RelyingParty, credential: Any, challenge: bytes, public_key: bytes, sign_count: int
) -> VerifiedAuthentication:
    """The verified `navigator.credentials.get()` answer of the credential with `public_key`,
    user verified, its counter past `sign_count` (unless both are 0); else CeremonyRefused.
    """
    with _untrusted("assertion"):
        return verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origins,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
