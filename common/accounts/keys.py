"""Account keys: URL-safe, signed, expiring, and bound to the state they were made for.

Nothing is stored: a key carries its user and target, signed with SECRET_KEY (and
checked against SECRET_KEY_FALLBACKS), and a keyed digest of the account state it
was made for. Once that state changes (the address is verified or changed, the
password is set), the key is dead: that is what makes it single-use. The services
make each use conditional on the state it read, so that two uses at once cannot both
succeed.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from common.models import Account
from common.principal import UserModel, user_email, user_id_parse

EMAIL_VERIFY, EMAIL_CHANGE, PASSWORD_RESET = "email-verify", "email-change", "password-reset"
PURPOSES = (EMAIL_VERIFY, EMAIL_CHANGE, PASSWORD_RESET)
# Base64url, digits and dots only: a key passes through a URL's query string untouched.
SEPARATOR = "."


def _signer(purpose: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"dualauth.account.{purpose}", sep=SEPARATOR)


def _state(purpose: str, user: UserModel, target: str) -> str:
    """What must not change while a key of `purpose` lives: the address and the password
    (a reset, or a move to an address, ends with either), and whether the address is verified.
    """
    email = user_email(user)
    if purpose == PASSWORD_RESET:
        return f"{user.pk}|{user.password}|{email}"
    verified = Account.objects.filter(user_id=user.pk, email_verified=True).exists()
    return f"{user.pk}|{user.password}|{email}|{verified}|{target}"


def _digest(purpose: str, state: str, secret: str | bytes) -> str:
    return salted_hmac(f"dualauth.account.{purpose}.state", state, secret=secret).hexdigest()[:32]


def account_key_make(*, purpose: str, user: UserModel, target: str = "") -> str:
    """A key of `purpose` for `user` (and `target`, the address an email change moves to)."""
    digest = _digest(purpose, _state(purpose, user, target), settings.SECRET_KEY)
    return _signer(purpose).sign_object({"u": str(user.pk), "t": target, "s": digest})


def account_key_read(*, purpose: str, key: str, max_age: timedelta) -> tuple[UserModel, str] | None:
    """The active user and target a live key of `purpose` names; None for any other key."""
    try:
        payload: Any = _signer(purpose).unsign_object(key, max_age=max_age.total_seconds())
    except (signing.BadSignature, ValueError, UnicodeError):
        return None
    if not isinstance(payload, dict) or not all(
        isinstance(payload.get(name), str) for name in ("u", "t", "s")
    ):
        return None
    user_id = user_id_parse(payload["u"])
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    # As its signature, the digest may be of a secret the deployment rotated away from.
    state = _state(purpose, user, payload["t"])
    known = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    if not any(constant_time_compare(_digest(purpose, state, s), payload["s"]) for s in known):
        return None
    return user, payload["t"]
