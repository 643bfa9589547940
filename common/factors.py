"""The second factors as the features see each other's: hooks registered by the feature that
owns each part.

The account checks a second-factor code at re-authentication and shows the factors on its
page; a removed passkey asks whether it was the last factor; a login's second step asks the
passkeys for a challenge and checks the answer. None of them imports another feature:
common's ready() registers each feature's functions here.
"""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from common.principal import UserId, UserModel

# What the owner is told when the factor that went was their last.
LAST_FACTOR_GONE = (
    "It was the last second factor: your password alone now signs you in, "
    "and your recovery codes no longer work."
)

# The mfa feature's: checks a code (`user`, `code`, `request`, `device_token`), answering which
# factor it was; the account page's `mfa` block (`user_id`); after a factor went (`user_id`,
# `request`), whether it was the last.
CodeConfirm = Callable[..., str]
FactorSummary = Callable[..., dict[str, bool | int]]
FactorRemoved = Callable[..., bool]
# The passkeys feature's: how many the user has (`user_id`); a challenge and its options for
# a second step (`user_id`, `request`); whether an answer (`user_id`, `credential`,
# `challenge`, `request`) is verified.
PasskeyCount = Callable[..., int]
# The mfa feature's: the 202 answer asking a user who proved who they are (`user`, `mode`,
# `request`, `options`) for the second factor, or None when the user has none.
LoginSecondStep = Callable[..., dict[str, Any] | None]
PasskeyOptions = Callable[..., tuple[bytes, dict[str, Any]]]
PasskeyVerify = Callable[..., bool]
_hooks: dict[str, Callable[..., Any]] = {}


def factors_register(
    *, code_confirm: CodeConfirm, summary: FactorSummary, removed: FactorRemoved
) -> None:
    """Have the second factors' feature check codes, summarise and count a user's factors."""
    _hooks.update(code_confirm=code_confirm, summary=summary, removed=removed)


def passkey_factor_register(
    *, count: PasskeyCount, options: PasskeyOptions, verify: PasskeyVerify
) -> None:
    """Have the passkeys' feature count a user's passkeys and answer for them at a second step."""
    _hooks.update(passkey_count=count, passkey_options=options, passkey_verify=verify)


def login_second_step_register(*, begin: LoginSecondStep) -> None:
    """Have the second factors' feature begin a login's second step."""
    _hooks["login_second_step"] = begin


def login_second_step_begin(
    *, user: UserModel, mode: str, request: HttpRequest, options: dict[str, Any]
) -> dict[str, Any] | None:
    """The answer asking `user`'s login in `mode` for a second factor; None when none is needed."""
    begin: LoginSecondStep = _hooks["login_second_step"]
    return begin(user=user, mode=mode, request=request, options=options)


def factor_code_confirm(
    *, user: UserModel, code: str, request: HttpRequest, device_token: str = ""
) -> str:
    """Check a second-factor code of `user`, counted as a login attempt; which factor it was."""
    confirm: CodeConfirm = _hooks["code_confirm"]
    return confirm(user=user, code=code, request=request, device_token=device_token)


def factors_summary(*, user_id: UserId) -> dict[str, bool | int]:
    """The user's second factors, as the account page shows them."""
    summary: FactorSummary = _hooks["summary"]
    return summary(user_id=user_id)


def factor_removed(*, user_id: UserId, request: HttpRequest | None = None) -> bool:
    """After a factor went: whether it was the last, in which case its recovery codes went."""
    removed: FactorRemoved = _hooks["removed"]
    return removed(user_id=user_id, request=request)


def passkey_factor_count(*, user_id: UserId) -> int:
    """How many passkeys the user has."""
    count: PasskeyCount = _hooks["passkey_count"]
    return count(user_id=user_id)


def passkey_factor_options(
    *, user_id: UserId, request: HttpRequest
) -> tuple[bytes, dict[str, Any]]:
    """A challenge for a passkey as second factor, and its request options."""
    options: PasskeyOptions = _hooks["passkey_options"]
    return options(user_id=user_id, request=request)


def passkey_factor_verify(
    *, user_id: UserId, credential: Any, challenge: bytes, request: HttpRequest
) -> bool:
    """Whether `credential` is a verified answer to `challenge` from one of the user's passkeys."""
    verify: PasskeyVerify = _hooks["passkey_verify"]
    return verify(user_id=user_id, credential=credential, challenge=challenge, request=request)
