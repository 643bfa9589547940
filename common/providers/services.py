"""Writes of the providers feature: nonces, sign-ins, sign-ups, links and unlinks.

An identity is (issuer, `sub`), never an address. An unknown identity whose verified address
is unused signs up a new account; one whose address belongs to an account changes nothing
(409 `account_exists`) unless PROVIDER_AUTO_LINK is on and both sides verified the address.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import NotFound

from common.accounts.models import Account, identity_key
from common.audit import audit_event
from common.changes import IDENTITY_LINKED, IDENTITY_UNLINKED, signin_change_announce
from common.conf import dualauth_settings
from common.factors import factors_summary
from common.logins import login_admit
from common.principal import UserId, UserModel
from common.providers.exceptions import (
    AccountExists,
    IdentityInUse,
    LastSignInMethod,
    ProviderEmailNotVerified,
    ProviderTokenNotValid,
)
from common.providers.models import ProviderIdentity, ProviderNonce
from common.providers.registry import Provider, provider_get
from common.providers.tokens import TokenRefused, email_verified, id_token_verify
from common.routes import Mode
from common.selectors import user_get
from common.services import user_create
from common.throttling import login_address_attempt_reserve, login_attempt_release

NONCE_BYTES = 32
# What a new account's name keeps of the address's local part (Django's username characters).
USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")
USERNAME_BASE_LENGTH = 30
# The `amr` value (RFC 8176) saying the provider checked more than one factor.
AMR_MFA = "mfa"
# A login by a provider's ID token: RFC 8176 registers no value for a federated assertion,
# so the one Microsoft Entra ID's tokens carry for it.
AMR_FEDERATED = "fed"
# The values RFC 8176 registers (section 2): all a trusted provider's `amr` may add to `fed`.
RFC8176_METHODS = frozenset(
    {
        "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin",
        "pwd", "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia",
    }
)  # fmt: skip
# How long a provider sign-in's methods may be: the login keeps 64 characters, and a second
# factor adds its own two values.
AMR_PROVIDER_LENGTH = 48


@dataclass(frozen=True)
class ProviderSignIn:
    """A provider sign-in that proved who the user is, and whether it proved a second factor."""

    user: UserModel
    identity: ProviderIdentity
    second_factor: bool
    # The login's methods (`amr`): `fed`, and what a trusted provider says it used.
    amr: str


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def nonce_issue() -> str:
    """A new sign-in nonce, usable once within PROVIDER_NONCE_LIFETIME; only its hash is kept."""
    now = timezone.now()
    ProviderNonce.objects.filter(expires_at__lte=now).delete()
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    ProviderNonce.objects.create(
        digest=_digest(nonce), expires_at=now + dualauth_settings.PROVIDER_NONCE_LIFETIME
    )
    return nonce


def nonce_take(*, nonce: str) -> bool:
    """Use the nonce: True for the one request whose DELETE removed it while it was live."""
    deleted, _ = ProviderNonce.objects.filter(
        digest=_digest(nonce), expires_at__gt=timezone.now()
    ).delete()
    return bool(deleted)


def provider_token_check(
    *, provider: Provider, id_token: str, nonce: str, request: HttpRequest, mode: Mode | None
) -> dict[str, Any]:
    """The claims of an ID token of `provider` bound to the server's `nonce`, which it uses up.

    The nonce is taken before the token is checked, so that a failed attempt burns it too.
    400 `provider_token_not_valid`, audited with its reason.
    """
    try:
        if not nonce_take(nonce=nonce):
            raise ProviderTokenNotValid() from TokenRefused("nonce unknown, used or expired")
        return id_token_verify(provider=provider, id_token=id_token, nonce=nonce)
    except ProviderTokenNotValid as e:
        audit_event(
            "provider_login_failed",
            request=request,
            provider=provider.id,
            reason=str(e.__cause__ or e),
            mode=mode,
        )
        raise


def provider_login_check(
    *, provider_id: str, id_token: str, nonce: str, request: HttpRequest, mode: Mode
) -> ProviderSignIn:
    """The user an ID token of `provider_id` signs in, in `mode`: known, linked or new.

    A refused token counts as a failed login of the client address (429 once over).
    """
    provider = provider_get(provider_id=provider_id)
    counters = login_address_attempt_reserve(request=request, mode=mode, method="provider")
    claims = provider_token_check(
        provider=provider, id_token=id_token, nonce=nonce, request=request, mode=mode
    )
    login_attempt_release(counters)
    return provider_sign_in(provider=provider, claims=claims, request=request, mode=mode)


def provider_sign_in(
    *, provider: Provider, claims: dict[str, Any], request: HttpRequest, mode: Mode
) -> ProviderSignIn:
    """Who checked `claims` of `provider` sign in: the identity's user, or a new account."""
    identity = (
        ProviderIdentity.objects.select_related("user")
        .filter(issuer=provider.issuer, subject=claims["sub"])
        .first()
    )
    if identity is None:
        identity = _identity_first_sign_in(provider=provider, claims=claims, request=request)
    user = identity.user
    if not user.is_active:
        audit_event(
            "provider_login_failed",
            request=request,
            user_id=user.pk,
            provider=provider.id,
            reason="inactive user",
            mode=mode,
        )
        raise ProviderTokenNotValid()
    login_admit(user=user, request=request)
    ProviderIdentity.objects.filter(pk=identity.pk).update(
        last_used_at=timezone.now(), email=_email(claims)
    )
    audit_event("provider_login", request=request, user_id=user.pk, provider=provider.id, mode=mode)
    return ProviderSignIn(
        user=user,
        identity=identity,
        second_factor=_second_factor(provider, claims),
        amr=_methods(provider, claims),
    )


def _email(claims: dict[str, Any]) -> str:
    email = claims.get("email")
    return email[:254] if isinstance(email, str) else ""


def _second_factor(provider: Provider, claims: dict[str, Any]) -> bool:
    """Whether the provider's own second factor stands for the account's (a setting says so)."""
    amr = claims.get("amr")
    return (
        provider.id in dualauth_settings.PROVIDER_MFA_TRUSTED
        and isinstance(amr, list)
        and AMR_MFA in amr
    )


def _methods(provider: Provider, claims: dict[str, Any]) -> str:
    """The sign-in's `amr`: `fed`, then, for a provider of PROVIDER_MFA_TRUSTED (whose word on
    how it authenticated is believed), the RFC 8176 values of its token's `amr`.
    """
    methods = [AMR_FEDERATED]
    amr = claims.get("amr")
    if provider.id in dualauth_settings.PROVIDER_MFA_TRUSTED and isinstance(amr, list):
        for value in amr:
            if (
                isinstance(value, str)
                and value in RFC8176_METHODS
                and value not in methods
                and len(" ".join([*methods, value])) <= AMR_PROVIDER_LENGTH
            ):
                methods.append(value)
    return " ".join(methods)


def _identity_first_sign_in(
    *, provider: Provider, claims: dict[str, Any], request: HttpRequest
) -> ProviderIdentity:
    """The identity of an unknown (issuer, sub): a new account's, or an auto-linked one's."""
    email = _email(claims)
    if not email or not email_verified(claims):
        audit_event("provider_email_not_verified", request=request, provider=provider.id)
        raise ProviderEmailNotVerified()
    holder = Account.objects.select_related("user").filter(email_key=identity_key(email)).first()
    if holder is not None:
        if dualauth_settings.PROVIDER_AUTO_LINK and holder.email_verified and holder.user.is_active:
            return identity_create(
                user_id=holder.user_id, provider=provider, claims=claims, request=request
            )
        audit_event(
            "provider_account_exists", request=request, user_id=holder.user_id, provider=provider.id
        )
        raise AccountExists()
    return _account_create(provider=provider, claims=claims, request=request)


def _username_for(email: str) -> str:
    """A free username for a new account of `email`: its local part, made unique."""
    model = get_user_model()
    if model.get_email_field_name() == model.USERNAME_FIELD:
        return email
    base = USERNAME_UNSAFE.sub("", email.split("@", 1)[0])[:USERNAME_BASE_LENGTH] or "user"
    name = base
    while Account.objects.filter(username_key=identity_key(name)).exists() or (
        model.objects.filter(**{f"{model.USERNAME_FIELD}__iexact": name}).exists()
    ):
        name = f"{base}-{secrets.token_hex(3)}"
    return name


def _account_create(
    *, provider: Provider, claims: dict[str, Any], request: HttpRequest
) -> ProviderIdentity:
    """A new verified account without a usable password, holding the identity and its address.

    An address taken meanwhile by another account is a 409 `account_exists`; nothing stays.
    """
    email = _email(claims)
    name = claims.get("name")
    try:
        with transaction.atomic():
            user = user_create(
                username=_username_for(email),
                password=None,
                email=email,
                display_name=name[:100] if isinstance(name, str) else "",
            )
            # The user's signal made its account: holding the address unless another did.
            if not Account.objects.filter(user_id=user.pk, email_key=identity_key(email)).update(
                email_verified=True
            ):
                raise IntegrityError("address taken")
            identity = ProviderIdentity.objects.create(
                user=user,
                provider=provider.id,
                issuer=provider.issuer,
                subject=claims["sub"],
                email=email,
                linked_at=timezone.now(),
            )
    except IntegrityError as e:
        audit_event("provider_account_exists", request=request, provider=provider.id)
        raise AccountExists() from e
    audit_event("provider_signup", request=request, user_id=user.pk, provider=provider.id)
    return identity


def identity_create(
    *, user_id: UserId, provider: Provider, claims: dict[str, Any], request: HttpRequest
) -> ProviderIdentity:
    """Link the identity of `claims` to the user: a sign-in change, told with its undo key.

    409 `identity_in_use` when it is another account's; the user's own comes back as it is.
    """
    existing = ProviderIdentity.objects.filter(
        issuer=provider.issuer, subject=claims["sub"]
    ).first()
    if existing is not None:
        if existing.user_id != user_id:
            raise IdentityInUse()
        return existing
    try:
        with transaction.atomic():
            identity = ProviderIdentity.objects.create(
                user_id=user_id,
                provider=provider.id,
                issuer=provider.issuer,
                subject=claims["sub"],
                email=_email(claims),
                linked_at=timezone.now(),
            )
    except IntegrityError as e:
        raise IdentityInUse() from e
    audit_event("provider_linked", request=request, user_id=user_id, provider=provider.id)
    signin_change_announce(
        user_id=user_id,
        change=IDENTITY_LINKED,
        request=request,
        reference=str(identity.pk),
        detail=f"{provider.name}: {identity.email}" if identity.email else provider.name,
    )
    return identity


def identity_link(
    *, user_id: UserId, provider_id: str, id_token: str, nonce: str, request: HttpRequest
) -> ProviderIdentity:
    """Link the identity an ID token of `provider_id` (with the server's `nonce`) proves."""
    provider = provider_get(provider_id=provider_id)
    claims = provider_token_check(
        provider=provider, id_token=id_token, nonce=nonce, request=request, mode=None
    )
    return identity_create(user_id=user_id, provider=provider, claims=claims, request=request)


def identity_unlink(*, user_id: UserId, identity_id: int, request: HttpRequest) -> None:
    """Unlink one of the user's identities; 404 for another's, 400 `last_sign_in_method` when
    the account would have no usable password, no passkey and no other identity left.

    The user's identities are locked while counted, so that two unlinks at once cannot
    each leave the other as the last way in.
    """
    user = user_get(user_id=user_id)
    if user is None:
        raise NotFound()
    with transaction.atomic():
        identities = list(
            ProviderIdentity.objects.select_for_update().filter(user_id=user.pk).order_by("pk")
        )
        identity = next((each for each in identities if each.pk == identity_id), None)
        if identity is None:
            raise NotFound()
        others = len(identities) - 1
        if (
            not others
            and not user.has_usable_password()
            and not factors_summary(user_id=user.pk)["passkeys"]
        ):
            raise LastSignInMethod()
        identity.delete()
    audit_event("provider_unlinked", request=request, user_id=user.pk, provider=identity.provider)
    signin_change_announce(
        user_id=user.pk,
        change=IDENTITY_UNLINKED,
        request=request,
        reference=str(identity_id),
        detail=identity.provider,
    )


def identity_link_undo(user_id: UserId, reference: str) -> None:
    """Undo a link: the identity it added goes."""
    if reference.isdigit():
        ProviderIdentity.objects.filter(pk=int(reference), user_id=user_id).delete()
