"""Writes of passkeys: registration, rename, removal, and their use to log in.

Every challenge is single-use and short-lived (WEBAUTHN_CHALLENGE_LIFETIME): it is
taken, gone for every later request, before its answer is verified, so a failed
answer burns it too. User verification is required everywhere. A counter that did
not move past the stored one is refused (a cloned authenticator), and the new count
is written only over the count that was verified against, so of two answers with one
count, one wins.
"""

import secrets
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import NotFound
from webauthn import generate_authentication_options, generate_registration_options
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    generate_challenge,
    options_to_json_dict,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from common.audit import audit_event
from common.changes import PASSKEY_ADDED, PASSKEY_REMOVED, signin_change_announce
from common.conf import dualauth_settings
from common.exceptions import PasskeyNotValid
from common.logins import login_admit
from common.mfa.challenges import challenge_issue, challenge_take
from common.mfa.models import MfaChallenge, Passkey
from common.mfa.services import LAST_FACTOR_GONE, mfa_factor_removed
from common.mfa.webauthn.ceremony import (
    CeremonyRefused,
    RelyingParty,
    assertion_parse,
    assertion_verify,
    registration_verify,
    relying_party,
)
from common.models import Profile
from common.principal import UserId, UserModel
from common.routes import Mode
from common.selectors import user_get
from common.throttling import login_address_attempt_reserve, login_attempt_release

REGISTER, LOGIN = MfaChallenge.Purpose.PASSKEY_REGISTER, MfaChallenge.Purpose.PASSKEY_LOGIN
USER_HANDLE_BYTES = 32
TRANSPORTS = {transport.value for transport in AuthenticatorTransport}


def _lifetime_ms() -> int:
    """The challenge's lifetime, as the `timeout` a browser waits for the user."""
    return int(dualauth_settings.WEBAUTHN_CHALLENGE_LIFETIME.total_seconds() * 1000)


def _registration_token(family_id: Any) -> str:
    """The name of a login's pending registration: one per login, new options replace it."""
    return f"register:{family_id}"


def _descriptors(passkeys: Iterable[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=bytes(passkey.credential_id),
            transports=[AuthenticatorTransport(t) for t in passkey.transports],
        )
        for passkey in passkeys
    ]


def _user_handle(*, user_id: UserId) -> bytes:
    """The user's WebAuthn user handle: their passkeys' one, else a new random one.

    Random, so that an authenticator learns nothing of the account from it.
    """
    existing = Passkey.objects.filter(user_id=user_id).values_list("user_handle", flat=True)[:1]
    return bytes(existing[0]) if existing else secrets.token_bytes(USER_HANDLE_BYTES)


def passkey_registration_options(
    *, user_id: UserId, family_id: Any, request: HttpRequest
) -> dict[str, Any]:
    """Creation options for a new passkey of the user (JSON-ready); its challenge is kept for
    this login, replacing any earlier one.

    The passkey must be discoverable and verify its user; the user's passkeys are
    excluded, so that an authenticator does not make a second one for the account.
    """
    user = user_get(user_id=user_id)
    if user is None:
        raise NotFound()
    rp = relying_party(request=request)
    handle = _user_handle(user_id=user_id)
    profile = Profile.objects.filter(user_id=user_id).first()
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user.get_username(),
        user_id=handle,
        user_display_name=(profile.display_name if profile else "") or user.get_username(),
        timeout=_lifetime_ms(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(Passkey.objects.filter(user_id=user_id)),
    )
    challenge_issue(
        purpose=REGISTER,
        lifetime=dualauth_settings.WEBAUTHN_CHALLENGE_LIFETIME,
        user_id=user_id,
        options={"user_handle": bytes_to_base64url(handle)},
        webauthn_challenge=options.challenge,
        token=_registration_token(family_id),
    )
    return options_to_json_dict(options)


def passkey_register(
    *, user_id: UserId, family_id: Any, name: str, credential: Any, request: HttpRequest
) -> Passkey:
    """Keep the passkey a browser made from this login's pending options, named `name`.

    400 `passkey_not_valid` when no registration is pending (none asked for, used, or
    expired), when the answer does not verify, or when the passkey is registered already.
    """
    pending = challenge_take(purpose=REGISTER, token=_registration_token(family_id))
    if pending is None or pending.user_id != user_id or pending.webauthn_challenge is None:
        raise PasskeyNotValid("No passkey registration is pending: start again.")
    try:
        verified = registration_verify(
            rp=relying_party(request=request),
            credential=credential,
            challenge=bytes(pending.webauthn_challenge),
        )
    except CeremonyRefused as e:
        raise PasskeyNotValid() from e
    response = credential.get("response") if isinstance(credential, dict) else None
    transports = response.get("transports") if isinstance(response, dict) else None
    try:
        with transaction.atomic():
            passkey = Passkey.objects.create(
                user_id=user_id,
                name=name,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                user_handle=base64url_to_bytes(pending.options["user_handle"]),
                transports=sorted(
                    {t for t in transports if isinstance(t, str) and t in TRANSPORTS}
                    if isinstance(transports, list)
                    else set()
                ),
                backed_up=verified.credential_backed_up,
                created_at=timezone.now(),
            )
    except IntegrityError as e:
        # The credential id is unique: a passkey belongs to one account only.
        raise PasskeyNotValid("This passkey is registered already.") from e
    audit_event(
        "passkey_added",
        request=request,
        user_id=user_id,
        family_id=family_id,
        passkey_id=passkey.pk,
    )
    signin_change_announce(
        user_id=user_id,
        change=PASSKEY_ADDED,
        request=request,
        reference=str(passkey.pk),
        detail=f"It is named \u201c{name}\u201d.",
    )
    return passkey


def passkey_added_undo(user_id: UserId, reference: str) -> None:
    """Remove the passkey whose adding is being undone (if it is still the user's); the
    recovery codes go too when no factor remains.
    """
    if reference.isdigit():
        Passkey.objects.filter(pk=int(reference), user_id=user_id).delete()
    mfa_factor_removed(user_id=user_id)


def passkey_rename(
    *, user_id: UserId, passkey_id: int, name: str, request: HttpRequest | None = None
) -> Passkey:
    """Give one of the user's passkeys another name; 404 for any other id."""
    passkey = Passkey.objects.filter(pk=passkey_id, user_id=user_id).first()
    if passkey is None:
        raise NotFound()
    passkey.name = name
    passkey.save(update_fields=["name"])
    audit_event("passkey_renamed", request=request, user_id=user_id, passkey_id=passkey.pk)
    return passkey


def passkey_delete(*, user_id: UserId, passkey_id: int, request: HttpRequest) -> None:
    """Remove one of the user's passkeys (404 for any other id), telling the user by mail."""
    passkey = Passkey.objects.filter(pk=passkey_id, user_id=user_id).first()
    # Conditional: of two removals at once, one removes and tells, the other is a 404.
    if passkey is None or not Passkey.objects.filter(pk=passkey.pk).delete()[0]:
        raise NotFound()
    audit_event("passkey_removed", request=request, user_id=user_id, passkey_id=passkey_id)
    detail = f"It was named \u201c{passkey.name}\u201d."
    if mfa_factor_removed(user_id=user_id, request=request):
        detail = f"{detail} {LAST_FACTOR_GONE}"
    signin_change_announce(user_id=user_id, change=PASSKEY_REMOVED, request=request, detail=detail)


def _passkey_use(*, passkey: Passkey, credential: Any, challenge: bytes, rp: RelyingParty) -> None:
    """Verify an answer of `passkey` and record its use; else CeremonyRefused.

    The count is written only over the one verified against: of two answers with the
    same count, the second finds it moved and is refused.
    """
    verified = assertion_verify(
        rp=rp,
        credential=credential,
        challenge=challenge,
        public_key=bytes(passkey.public_key),
        sign_count=passkey.sign_count,
    )
    used = Passkey.objects.filter(pk=passkey.pk, sign_count=passkey.sign_count).update(
        sign_count=verified.new_sign_count,
        backed_up=verified.credential_backed_up,
        last_used_at=timezone.now(),
    )
    if not used:
        raise CeremonyRefused("assertion: the sign count moved meanwhile")


def passkey_login_options(*, request: HttpRequest) -> dict[str, Any]:
    """A challenge for a passwordless login: its token, and request options with no
    allowCredentials (the authenticator offers its discoverable passkeys) and user
    verification required.
    """
    rp = relying_party(request=request)
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=_lifetime_ms(),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    token = challenge_issue(
        purpose=LOGIN,
        lifetime=dualauth_settings.WEBAUTHN_CHALLENGE_LIFETIME,
        webauthn_challenge=options.challenge,
    )
    return {"challenge_token": token, "options": options_to_json_dict(options)}


def passkey_login_check(
    *, challenge_token: str, credential: Any, request: HttpRequest, mode: Mode | None = None
) -> UserModel:
    """The user a passwordless passkey login (in `mode`) proves, who may log in now.

    400 `passkey_not_valid` for an unknown, used or expired challenge, an unknown
    passkey, a user handle not its owner's, or an answer that does not verify; each
    counts as a failed login of the address (429 once over); then what a login gate refuses
    (403 `email_not_verified` when the address must be verified first).
    """
    counters = login_address_attempt_reserve(request=request, mode=mode)
    passkey = None
    try:
        pending = challenge_take(purpose=LOGIN, token=challenge_token)
        if pending is None or pending.webauthn_challenge is None:
            raise CeremonyRefused("challenge unknown, used or expired")
        credential_id, user_handle = assertion_parse(credential)
        passkey = Passkey.objects.select_related("user").filter(credential_id=credential_id).first()
        if passkey is None:
            raise CeremonyRefused("unknown passkey")
        # A discoverable login names its user by the handle: it must be the passkey's owner's.
        if user_handle != bytes(passkey.user_handle):
            raise CeremonyRefused("user handle is not the passkey's")
        if not passkey.user.is_active:
            raise CeremonyRefused("inactive user")
        _passkey_use(
            passkey=passkey,
            credential=credential,
            challenge=bytes(pending.webauthn_challenge),
            rp=relying_party(request=request),
        )
    except CeremonyRefused as e:
        user_id = passkey.user_id if passkey is not None else None
        audit_event(
            "passkey_login_failed", request=request, user_id=user_id, reason=str(e), mode=mode
        )
        raise PasskeyNotValid() from e
    login_attempt_release(counters)
    user = passkey.user
    login_admit(user=user, request=request)
    audit_event("passkey_login", request=request, user_id=user.pk, passkey_id=passkey.pk)
    return user


def passkey_assertion_options(
    *, user_id: UserId, request: HttpRequest
) -> tuple[bytes, dict[str, Any]]:
    """A challenge for a passkey as second factor, and its request options (JSON-ready):
    the user's passkeys allowed, user verification required. The caller keeps the challenge.
    """
    options = generate_authentication_options(
        rp_id=relying_party(request=request).id,
        challenge=generate_challenge(),
        timeout=_lifetime_ms(),
        allow_credentials=_descriptors(Passkey.objects.filter(user_id=user_id)),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options.challenge, options_to_json_dict(options)


def passkey_assertion_verify(
    *, user_id: UserId, credential: Any, challenge: bytes, request: HttpRequest
) -> bool:
    """Whether `credential` is a verified answer to `challenge` from one of the user's passkeys;
    its use is recorded when it is.
    """
    try:
        credential_id, user_handle = assertion_parse(credential)
        passkey = Passkey.objects.filter(user_id=user_id, credential_id=credential_id).first()
        if passkey is None:
            raise CeremonyRefused("not a passkey of this user")
        if user_handle is not None and user_handle != bytes(passkey.user_handle):
            raise CeremonyRefused("user handle is not the passkey's")
        _passkey_use(
            passkey=passkey,
            credential=credential,
            challenge=challenge,
            rp=relying_party(request=request),
        )
    except CeremonyRefused as e:
        audit_event("passkey_login_failed", request=request, user_id=user_id, reason=str(e))
        return False
    return True
