"""Changes to how an account signs in: the signal a feature sends when it makes one, and the
hooks by which each feature undoes its own.

A feature that adds, removes or uses a way in (a factor, recovery codes, the address, the
password, an external identity) calls `signin_change_announce`; the accounts feature hears
it, tells the owner by mail with a single-use undo key, and on that key's use asks the
feature that made the change to reverse it through the hook it registered here. So no
feature imports another, and a new way in (an external identity) only announces its change
and registers its hook.
"""

from collections.abc import Callable

from django.dispatch import Signal
from django.http import HttpRequest

from common.principal import UserId

PASSKEY_ADDED = "passkey_added"
PASSKEY_REMOVED = "passkey_removed"
TOTP_ENABLED = "totp_enabled"
TOTP_DISABLED = "totp_disabled"
RECOVERY_CODES_GENERATED = "recovery_codes_generated"
RECOVERY_CODE_USED = "recovery_code_used"
EMAIL_CHANGED = "email_changed"
PASSWORD_CHANGED = "password_changed"
PASSWORD_RESET = "password_reset"
IDENTITY_LINKED = "identity_linked"
IDENTITY_UNLINKED = "identity_unlinked"

# Sent with `user_id`, `change` (one of the names above, or a feature's own), `request`,
# `reference` (what the undo needs: the added factor's id, the address before) and `detail`
# (a sentence for the owner, or "").
signin_changed = Signal()

# What undoes a change, by its name: called with the user and the change's reference.
SignInUndo = Callable[[UserId, str], None]
_undoers: dict[str, SignInUndo] = {}


def signin_change_announce(
    *,
    user_id: UserId,
    change: str,
    request: HttpRequest,
    reference: str = "",
    detail: str = "",
) -> None:
    """Tell whoever listens that the user's way of signing in just changed."""
    signin_changed.send(
        sender=None,
        user_id=user_id,
        change=change,
        request=request,
        reference=reference,
        detail=detail,
    )


def signin_undo_register(change: str, undo: SignInUndo) -> None:
    """Have `undo` reverse each change named `change` (one hook per change)."""
    _undoers[change] = undo


def signin_undo_run(*, change: str, user_id: UserId, reference: str) -> None:
    """Reverse a change with its feature's hook; a change with none has nothing to reverse."""
    undo = _undoers.get(change)
    if undo is not None:
        undo(user_id, reference)
