"""Reads of accounts: by address, verification, the account page; nothing here writes."""

from typing import Any

from common.accounts.models import Account, identity_key
from common.factors import factors_summary
from common.principal import Principal, UserId


def account_by_email(*, email: str) -> Account | None:
    """The account that owns `email` (in any case), with its user; None if none does."""
    key = identity_key(email)
    if key is None:
        return None
    return Account.objects.select_related("user").filter(email_key=key).first()


def username_taken(*, username: str) -> bool:
    """Whether an account already has `username`, in any case."""
    return Account.objects.filter(username_key=identity_key(username)).exists()


def email_verified(*, user_id: UserId) -> bool:
    """Whether the user's address is verified; a user without an account row counts as verified.

    Only signup makes an unverified account: users made any other way were made by an operator.
    """
    return not Account.objects.filter(user_id=user_id, email_verified=False).exists()


def account_get(*, principal: Principal) -> dict[str, Any]:
    """The account page of `principal`: name, address, its verification, second factors."""
    return {
        "username": principal.username,
        "email": principal.email,
        "email_verified": email_verified(user_id=principal.pk),
        "mfa": factors_summary(user_id=principal.pk),
    }
