"""Writes around the login: signup, verification, reset, email change, re-authentication, deletion.

The public endpoints never tell whether an address has an account: each call of one
takes the same work whatever the answer (one password hash at signup, one mail to
the target address) and gets the same response. Each is throttled per client address
(`account_throttle` of common/services.py, through the views' throttle class) and each
mail per target address, across every instance.
"""

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from common.accounts.keys import (
    EMAIL_CHANGE,
    EMAIL_VERIFY,
    PASSWORD_RESET,
    account_key_make,
    account_key_read,
)
from common.accounts.mail import (
    frontend_link,
    lifetime_text,
    mail_send,
)
from common.accounts.models import Account, SignInChange, identity_key
from common.accounts.selectors import account_by_email, email_verified, username_taken
from common.audit import audit_event
from common.cache import cache_delete
from common.changes import (
    EMAIL_CHANGED,
    IDENTITY_LINKED,
    PASSKEY_ADDED,
    PASSKEY_REMOVED,
    PASSWORD_CHANGED,
    RECOVERY_CODE_USED,
    RECOVERY_CODES_GENERATED,
    TOTP_DISABLED,
    TOTP_ENABLED,
    signin_change_announce,
    signin_undo_run,
)
from common.changes import PASSWORD_RESET as PASSWORD_RESET_CHANGE
from common.conf import dualauth_settings
from common.exceptions import EmailNotVerified, KeyNotValid
from common.factors import factor_code_confirm
from common.logins import families_revoke
from common.models import LoginFamily
from common.net import client_ip
from common.passwords import password_confirm, password_validate
from common.principal import UserId, UserModel, user_email
from common.selectors import family_cache_key
from common.services import user_create
from common.throttling import throttle_key, throttle_take

# The SPA's pages that account mails link to (`?action=...`).
VERIFY_ACTION, RESET_ACTION, FORGOT_ACTION, SIGNUP_ACTION, UNDO_ACTION = (
    "verify-email",
    "reset-password",
    "forgot-password",
    "signup",
    "undo",
)
# Each key's mail, the SPA page its link opens, and the setting its lifetime comes from.
KEY_MAILS = {
    EMAIL_VERIFY: ("email_verify", VERIFY_ACTION, "VERIFICATION_KEY_LIFETIME"),
    EMAIL_CHANGE: ("email_change", VERIFY_ACTION, "VERIFICATION_KEY_LIFETIME"),
    PASSWORD_RESET: ("password_reset", RESET_ACTION, "RESET_KEY_LIFETIME"),
}


# What each sign-in change was, for its owner; a change not named here gets the last line.
CHANGE_TEXTS = {
    PASSKEY_ADDED: "A passkey was added to your account",
    PASSKEY_REMOVED: "A passkey was removed from your account",
    TOTP_ENABLED: "An authenticator app was enabled for your account",
    TOTP_DISABLED: "The authenticator app of your account was removed",
    RECOVERY_CODES_GENERATED: "New recovery codes were made for your account",
    RECOVERY_CODE_USED: "A recovery code was used to sign in to your account",
    EMAIL_CHANGED: "The email address of your account was changed",
    PASSWORD_CHANGED: "The password of your account was changed",
    PASSWORD_RESET_CHANGE: "The password of your account was reset",
    IDENTITY_LINKED: "An external sign-in was linked to your account",
}
CHANGE_TEXT_OTHER = "How your account signs in was changed"
UNDO_KEY_BYTES = 32


def _mail_throttle(*, email: str, user_id: UserId | None = None) -> None:
    """Count a mail to `email`, whether or not it has an account, and one the account `user_id`
    asked for, if given (so that one account cannot mail address after address); 429 when over.
    """
    limit = dualauth_settings.ACCOUNT_MAILS_PER_EMAIL
    buckets = [(throttle_key("account-mail", identity_key(email) or ""), limit)]
    if user_id is not None:
        buckets.append((throttle_key("account-mail:user", str(user_id)), limit))
    throttle_take(buckets=buckets, window=dualauth_settings.ACCOUNT_THROTTLE_WINDOW)


def _logs_in_with_email() -> bool:
    model = get_user_model()
    return bool(model.get_email_field_name() == model.USERNAME_FIELD)


def _key_lifetime(purpose: str) -> timedelta:
    return getattr(dualauth_settings, KEY_MAILS[purpose][2])


def _key_read(*, purpose: str, key: str) -> tuple[UserModel, str] | None:
    """The user and target of a live key of `purpose`, else None."""
    return account_key_read(purpose=purpose, key=key, max_age=_key_lifetime(purpose))


def _key_mail(*, purpose: str, user: UserModel, request: HttpRequest, target: str = "") -> None:
    """Mail a key of `purpose` (to `target`, the address it moves to, else the user's own) in
    the link to its page of the SPA, saying how long it lives.
    """
    kind, action, _ = KEY_MAILS[purpose]
    key = account_key_make(purpose=purpose, user=user, target=target)
    mail_send(
        kind=kind,
        to=target or user_email(user),
        request=request,
        context={
            "username": user.get_username(),
            "link": frontend_link(request=request, action=action, key=key),
            "lifetime": lifetime_text(_key_lifetime(purpose)),
        },
    )


def _account_exists_mail(*, email: str, request: HttpRequest) -> None:
    """Tell `email`, which has an account, that someone tried to give it to another."""
    mail_send(
        kind="account_exists",
        to=email,
        request=request,
        context={"link": frontend_link(request=request, action=FORGOT_ACTION)},
    )


def _unknown_account_mail(*, email: str, request: HttpRequest) -> None:
    """Tell `email` that no account (that may log in) uses it."""
    mail_send(
        kind="unknown_account",
        to=email,
        request=request,
        context={"link": frontend_link(request=request, action=SIGNUP_ACTION)},
    )


def account_signup(*, username: str, email: str, password: str, request: HttpRequest) -> None:
    """Sign up: a new unverified account holds the name; no login yet.

    An address that has an account gets one too, holding the name the same way but not
    the address, and its owner is mailed instead of a key: neither the answer, nor its
    time (one password hash, one mail), nor what the name and password answer afterwards
    tells whether the address was known. A name in use is a 400 (the contract's choice);
    with a user model that logs in by email, the name is the address.
    """
    if _logs_in_with_email():
        username = email
    elif username_taken(username=username):
        raise ValidationError({"username": ["This username is taken."]})
    model = get_user_model()
    candidate = model(**{model.USERNAME_FIELD: username, model.get_email_field_name(): email})
    password_validate(password=password, user=candidate, field="password")
    _mail_throttle(email=email)
    user = _user_signup(username=username, email=email, password=password)
    if user is None:
        # One hash, as the new account's took, so that the time tells nothing either.
        candidate.set_password(password)
    if user is None or not _holds_address(user):
        _account_exists_mail(email=email, request=request)
        audit_event("signup_existing", request=request, user_id=user and user.pk)
        return
    audit_event("signup", request=request, user_id=user.pk)
    if dualauth_settings.EMAIL_VERIFICATION == "none":
        mail_send(
            kind="welcome",
            to=email,
            request=request,
            context={"username": user.get_username(), "link": frontend_link(request=request)},
        )
    else:
        _key_mail(purpose=EMAIL_VERIFY, user=user, request=request)


def _holds_address(user: UserModel) -> bool:
    """Whether the user's account holds its address (no other account had it)."""
    return Account.objects.filter(user_id=user.pk, email_key__isnull=False).exists()


def _user_signup(*, username: str, email: str, password: str) -> UserModel | None:
    """A new user with an unverified account holding its name, and its address unless another
    account holds it; None where the name is the address and that is taken.

    A name taken by a race is a 400, as it would have been a moment later; an address
    taken by a race is held by the other signup, as it would have been a moment later.
    """
    if _logs_in_with_email() and account_by_email(email=email) is not None:
        return None
    for _ in range(2):
        try:
            with transaction.atomic():
                user = user_create(username=username, email=email, password=password)
                # The user's signal made its account, holding its keys unless another had them.
                if not Account.objects.filter(
                    user_id=user.pk, username_key=identity_key(username)
                ).update(email_verified=False, signed_up_at=timezone.now()):
                    raise IntegrityError("name taken")
        except IntegrityError:
            if _logs_in_with_email():
                return None
            if username_taken(username=username):
                raise ValidationError({"username": ["This username is taken."]}) from None
            continue
        return user
    raise ValidationError({"username": ["This username is taken."]})


def email_verify(*, key: str, request: HttpRequest, password: str = "") -> str:
    """Verify the address a key was mailed to: a new account's, with the password it signed up
    with (a click alone verifies no account whose password someone else chose), or the one an
    account moves to.
    """
    found = _key_read(purpose=EMAIL_VERIFY, key=key)
    if found is not None:
        user, _ = found
        if not password:
            # No guess was made: nothing to count. A client learns to ask for the password.
            raise ValidationError({"password": ["Enter the password you signed up with."]})
        password_confirm(user=user, password=password, field="password", request=request)
        # Conditional: of two uses of one key at once, one verifies and the other is refused.
        if not Account.objects.filter(user_id=user.pk, email_verified=False).update(
            email_verified=True
        ):
            raise KeyNotValid()
        audit_event("email_verified", request=request, user_id=user.pk)
        return user_email(user)
    found = _key_read(purpose=EMAIL_CHANGE, key=key)
    if found is None:
        raise KeyNotValid()
    user, email = found
    return _email_change_confirm(user=user, email=email, request=request)


def email_verification_gate(*, user: UserModel, request: HttpRequest) -> None:
    """Refuse a login (403 `email_not_verified`) while its address awaits the verification
    that EMAIL_VERIFICATION = "mandatory" asks for.
    """
    if dualauth_settings.EMAIL_VERIFICATION == "mandatory" and not email_verified(user_id=user.pk):
        audit_event("login_unverified", request=request, user_id=user.pk)
        raise EmailNotVerified()


def signups_expired_purge() -> int:
    """Delete the accounts that signed up and never verified their address within
    VERIFICATION_KEY_LIFETIME (their key is dead): their names are free again. How many.

    Only where a login needs a verified address: elsewhere an unverified account is in use.
    """
    if dualauth_settings.EMAIL_VERIFICATION != "mandatory":
        return 0
    joined_before = timezone.now() - dualauth_settings.VERIFICATION_KEY_LIFETIME
    users = get_user_model().objects.filter(
        account__email_verified=False, account__signed_up_at__lt=joined_before
    )
    count = 0
    for user in users.iterator():
        # One by one, so that each user's signals (its logins, its cache) run.
        user.delete()
        count += 1
    return count


def _key_state_hold(user: UserModel) -> None:
    """Lock the user's row, as a key just read it, until the transaction ends; KeyNotValid if
    its password or address changed meanwhile (another use of the same key came first).
    """
    current = {
        "pk": user.pk,
        "password": user.password,
        user.get_email_field_name(): user_email(user),
    }
    if not get_user_model().objects.select_for_update().filter(**current).exists():
        raise KeyNotValid()


def _email_change_confirm(*, user: UserModel, email: str, request: HttpRequest) -> str:
    """Move the account to `email`, proven just now; both addresses are told."""
    owner = account_by_email(email=email)
    if owner is not None and owner.user_id != user.pk:
        raise KeyNotValid("This address has been taken by another account since.")
    old = user_email(user)
    try:
        with transaction.atomic():
            _key_state_hold(user)
            _email_set(user=user, email=email)
    except IntegrityError:
        raise KeyNotValid("This address has been taken by another account since.") from None
    audit_event("email_changed", request=request, user_id=user.pk)
    signin_change_announce(
        user_id=user.pk,
        change=EMAIL_CHANGED,
        request=request,
        reference=old,
        detail=f"Its address is now {email}.",
    )
    return email


def _email_set(*, user: UserModel, email: str) -> None:
    """Give the account the verified address `email` (and name, when it logs in by it);
    IntegrityError when another account holds it.
    """
    setattr(user, user.get_email_field_name(), email)
    if _logs_in_with_email():
        setattr(user, get_user_model().USERNAME_FIELD, email)
    user.save()
    # The user's signal has synced the account, but it leaves a key another account
    # holds to that account; set here, a race for the address fails (IntegrityError).
    Account.objects.filter(user_id=user.pk).update(
        email_key=identity_key(email), email_verified=True
    )


def email_verification_resend(*, email: str, request: HttpRequest) -> None:
    """Mail a new verification key if `email` awaits one; else say why not, to that address."""
    _mail_throttle(email=email)
    account = account_by_email(email=email)
    audit_event("verification_resend", request=request, user_id=account and account.user_id)
    if account is None or not account.user.is_active:
        _unknown_account_mail(email=email, request=request)
    elif account.email_verified:
        mail_send(
            kind="already_verified",
            to=email,
            request=request,
            context={
                "username": account.user.get_username(),
                "link": frontend_link(request=request),
            },
        )
    else:
        _key_mail(purpose=EMAIL_VERIFY, user=account.user, request=request)


def password_reset_request(*, email: str, request: HttpRequest) -> None:
    """Mail a reset key if `email` has an account that may log in; else say so, to that address.

    As Django's reset form, an inactive user or one without a usable password gets none.
    """
    _mail_throttle(email=email)
    account = account_by_email(email=email)
    user = account.user if account is not None else None
    audit_event("password_reset_requested", request=request, user_id=user and user.pk)
    if user is None or not user.is_active or not user.has_usable_password():
        _unknown_account_mail(email=email, request=request)
        return
    _key_mail(purpose=PASSWORD_RESET, user=user, request=request)


def password_reset_confirm(*, key: str, new_password: str, request: HttpRequest) -> None:
    """Set a new password with a reset key; every login of the user ends, on every instance.

    The key was mailed to the account's address, so the address is verified too. A
    password the validators refuse leaves the key alive.
    """
    found = _key_read(purpose=PASSWORD_RESET, key=key)
    if found is None:
        raise KeyNotValid()
    user, _ = found
    password_validate(password=new_password, user=user, field="new_password")
    with transaction.atomic():
        _key_state_hold(user)
        families_revoke(user_id=user.pk, reason="password_reset", request=request)
        user.set_password(new_password)
        user.save(update_fields=["password"])
        Account.objects.filter(user_id=user.pk).update(email_verified=True)
    audit_event("password_reset", request=request, user_id=user.pk)
    signin_change_announce(user_id=user.pk, change=PASSWORD_RESET_CHANGE, request=request)


def email_change_request(*, user_id: UserId, email: str, request: HttpRequest) -> None:
    """Mail a key that moves the account to `email`; an address of another account is told so.

    The account keeps its address until the key is verified. One account may ask for at
    most ACCOUNT_MAILS_PER_EMAIL of these per window, whatever the addresses.
    """
    user = get_user_model().objects.get(pk=user_id)
    if identity_key(email) == identity_key(user_email(user)):
        raise ValidationError({"email": ["This is already your address."]})
    _mail_throttle(email=email, user_id=user.pk)
    audit_event("email_change_requested", request=request, user_id=user.pk)
    if account_by_email(email=email) is not None:
        _account_exists_mail(email=email, request=request)
        return
    _key_mail(purpose=EMAIL_CHANGE, user=user, request=request, target=email)


def login_reauthenticate(
    *,
    user_id: UserId,
    family_id: uuid.UUID,
    request: HttpRequest,
    password: str = "",
    code: str = "",
    device_token: str = "",
) -> datetime:
    """Mark this login freshly authenticated by the password, or a second-factor code; until
    when it counts as fresh. A known device (`device_token`, else its cookie) is counted as
    at login.
    """
    user = get_user_model().objects.get(pk=user_id)
    if code:
        factor_code_confirm(user=user, code=code, request=request, device_token=device_token)
    else:
        password_confirm(
            user=user,
            password=password,
            field="password",
            request=request,
            device_token=device_token,
        )
    now = timezone.now()
    # This proof is the login's latest authentication: its time and its method (RFC 9470).
    LoginFamily.objects.filter(pk=family_id, user_id=user.pk).update(
        authenticated_at=now, amr="otp" if code else "pwd"
    )
    # The next request reads the family's new state from the database, on every instance.
    cache_delete(family_cache_key(family_id, user.pk))
    audit_event("reauthenticated", request=request, user_id=user.pk, family_id=family_id)
    return now + dualauth_settings.REAUTH_WINDOW


def account_delete(*, user_id: UserId, request: HttpRequest) -> None:
    """Delete the user: every login ends first, on every instance; the rows cascade."""
    user = get_user_model().objects.get(pk=user_id)
    families_revoke(user_id=user.pk, reason="account_deleted", request=request)
    user.delete()
    audit_event("account_deleted", request=request, user_id=user_id)


def account_sync(*, user: UserModel) -> None:
    """Keep the user's account in step with its name and address, however they were set.

    A user made other than by signup (createsuperuser, the admin, a script) counts as
    verified, as does an address set other than by a key: an operator set it. A name
    or address another account holds in another case stays that account's alone.
    """
    keys = {
        "username_key": identity_key(user.get_username() or ""),
        "email_key": identity_key(user_email(user)),
    }
    for name, key in keys.items():
        if (
            key is not None
            and Account.objects.filter(**{name: key}).exclude(user_id=user.pk).exists()
        ):
            keys[name] = None
    account = Account.objects.filter(user_id=user.pk).first()
    if account is None:
        Account.objects.create(user_id=user.pk, email_verified=True, **keys)
        return
    if account.signed_up_at is not None and not account.email_verified and not account.email_key:
        # A signup for an address another account held never takes it by waiting.
        keys["email_key"] = None
    changed: dict[str, str | bool | None] = {
        name: key for name, key in keys.items() if getattr(account, name) != key
    }
    if "email_key" in changed:
        changed["email_verified"] = True
    if changed:
        Account.objects.filter(pk=account.pk).update(**changed)


def _undo_digest(key: str) -> str:
    """What is kept of an undo key: its SHA-256 (256 random bits need no slow hash)."""
    return hashlib.sha256(key.encode()).hexdigest()


def signin_change_record(
    *, user_id: UserId, change: str, request: HttpRequest, reference: str = "", detail: str = ""
) -> None:
    """Keep a sign-in change of the user and mail it, with its undo key, to the address in
    force before it (an email change: to the new address too); a user without one is not told.
    """
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return
    before = reference if change == EMAIL_CHANGED else user_email(user)
    recipients = [address for address in dict.fromkeys([before, user_email(user)]) if address]
    if not recipients:
        return
    key = secrets.token_urlsafe(UNDO_KEY_BYTES)
    row = SignInChange.objects.create(
        user_id=user.pk,
        change=change,
        reference=reference,
        digest=_undo_digest(key),
        created_at=timezone.now(),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:256],
        ip=client_ip(request) or None,
        mailed_to=before,
    )
    context = {
        "username": user.get_username(),
        "what": CHANGE_TEXTS.get(change, CHANGE_TEXT_OTHER),
        "detail": detail,
        "when": row.created_at,
        "device": row.user_agent or "unknown",
        "address": row.ip or "unknown",
        "link": frontend_link(request=request, action=UNDO_ACTION, key=key),
        "lifetime": lifetime_text(dualauth_settings.UNDO_LIFETIME),
    }
    for address in recipients:
        mail_send(kind="signin_changed", to=address, request=request, context=context)


def signin_change_undo(*, key: str, request: HttpRequest) -> str:
    """Undo the sign-in change an undo key was mailed for, and every later one; what it was.

    Whoever made a change the owner did not make held the account from then on, so what
    changed since is theirs too: each is reversed, newest first (a factor added goes, an
    address replaced comes back) and its key dies. Then every login of the user ends, the
    password is replaced by a random one, and a reset key goes to the account's address as
    restored. 400 `key_not_valid` for a key unknown, used, or older than UNDO_LIFETIME.
    """
    now = timezone.now()
    row = (
        SignInChange.objects.select_related("user")
        .filter(
            digest=_undo_digest(key),
            undone_at__isnull=True,
            created_at__gt=now - dualauth_settings.UNDO_LIFETIME,
        )
        .first()
    )
    if row is None or not row.user.is_active:
        raise KeyNotValid()
    user = row.user
    try:
        with transaction.atomic():
            # Conditional: of two uses of one key at once, one undoes and the other is refused.
            if not SignInChange.objects.filter(pk=row.pk, undone_at__isnull=True).update(
                undone_at=now
            ):
                raise KeyNotValid()
            later = SignInChange.objects.filter(
                Q(created_at__gt=row.created_at) | Q(created_at=row.created_at, pk__gt=row.pk),
                user_id=user.pk,
                undone_at__isnull=True,
            )
            changes = [*later.order_by("-created_at", "-pk"), row]
            later.update(undone_at=now)
            for change in changes:
                if change.change == EMAIL_CHANGED and change.reference:
                    _email_set(user=user, email=change.reference)
                else:
                    signin_undo_run(
                        change=change.change, user_id=user.pk, reference=change.reference
                    )
            families_revoke(user_id=user.pk, reason="signin_change_undone", request=request)
            # Nobody knows this one: the owner sets the next through the reset mail.
            user.set_password(secrets.token_urlsafe(UNDO_KEY_BYTES))
            user.save(update_fields=["password"])
    except IntegrityError:
        raise KeyNotValid("This address has been taken by another account since.") from None
    audit_event("signin_change_undone", request=request, user_id=user.pk, change=row.change)
    if user_email(user):
        _key_mail(purpose=PASSWORD_RESET, user=user, request=request)
    return row.change
