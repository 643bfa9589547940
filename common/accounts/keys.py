"""Account keys: URL-safe, opaque, expiring, and bound to the state they were made for.

Nothing is stored: a key is its user, target and a keyed digest of the account state it
was made for, encrypted and authenticated (Fernet) with a key derived from SECRET_KEY
(and read with those of SECRET_KEY_FALLBACKS), so that no one who sees a key learns
whose it is or where it points. Once that state changes (the address is verified or
changed, the password is set), the key is dead: that is what makes it single-use. The
services make each use conditional on the state it read, so that two uses at once cannot
both succeed.
"""

import base64
import json
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.crypto import constant_time_compare, salted_hmac

from common.accounts.models import Account
from common.principal import UserModel, user_email, user_id_parse

EMAIL_VERIFY, EMAIL_CHANGE, PASSWORD_RESET = "email-verify", "email-change", "password-reset"
PURPOSES = (EMAIL_VERIFY, EMAIL_CHANGE, PASSWORD_RESET)


def _secrets() -> list[str | bytes]:
    return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


def secret_cipher(*, salt: str, value: str = "") -> MultiFernet:
    """Fernet keys derived from SECRET_KEY and each of its fallbacks under `salt`: the first
    encrypts, every one decrypts, so that rotating SECRET_KEY keeps what was sealed readable.
    """
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(
                    salted_hmac(salt, value, secret=secret, algorithm="sha256").digest()
                )
            )
            for secret in _secrets()
        ]
    )


def _cipher(purpose: str) -> MultiFernet:
    """The Fernet keys of `purpose`."""
    return secret_cipher(salt=f"dualauth.account.{purpose}.key")


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
    payload = json.dumps({"u": str(user.pk), "t": target, "s": digest}, separators=(",", ":"))
    # Base64url without its padding: a key passes through a URL untouched.
    return _cipher(purpose).encrypt(payload.encode()).decode().rstrip("=")


def account_key_read(*, purpose: str, key: str, max_age: timedelta) -> tuple[UserModel, str] | None:
    """The active user and target a live key of `purpose` names; None for any other key."""
    token = key + "=" * (-len(key) % 4)
    try:
        plain = _cipher(purpose).decrypt(token.encode(), ttl=int(max_age.total_seconds()))
        payload: Any = json.loads(plain)
    except (InvalidToken, ValueError, UnicodeError):
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
    # As its encryption, the digest may be of a secret the deployment rotated away from.
    state = _state(purpose, user, payload["t"])
    if not any(constant_time_compare(_digest(purpose, state, s), payload["s"]) for s in _secrets()):
        return None
    return user, payload["t"]
