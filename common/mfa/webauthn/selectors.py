"""Reads of passkeys: a user's list, and how many they have."""

from typing import Any

from common.mfa.models import Passkey
from common.mfa.webauthn.ceremony import assertion_parse
from common.principal import UserId

PASSKEY_FIELDS = ("id", "name", "created_at", "last_used_at")


def passkey_list(*, user_id: UserId) -> list[dict[str, Any]]:
    """The user's passkeys, oldest first: id, name, when made, when last used (or None)."""
    return list(
        Passkey.objects.filter(user_id=user_id).order_by("created_at", "id").values(*PASSKEY_FIELDS)
    )


def passkey_count(*, user_id: UserId) -> int:
    """How many passkeys the user has."""
    return Passkey.objects.filter(user_id=user_id).count()


def passkey_login_methods(*, credential: Any) -> str:
    """The RFC 8176 methods of a passwordless login by the passkey that answered `credential`:
    `hwk` for a device-bound one, `swk` for one synced between devices, and `mfa` (a passkey
    that verified its user is both factors).
    """
    credential_id, _ = assertion_parse(credential)
    synced = (
        Passkey.objects.filter(credential_id=credential_id)
        .values_list("backed_up", flat=True)
        .first()
    )
    return f"{'swk' if synced else 'hwk'} mfa"
