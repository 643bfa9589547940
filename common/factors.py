"""The second factors as the accounts see them: hooks registered by the mfa feature.

The account checks a second-factor code at re-authentication and shows the factors on its
page, without importing the feature that owns them: the mfa app's ready() registers its
functions here.
"""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from common.principal import UserId, UserModel

# The mfa feature's: checks a code (`user`, `code`, `request`, `device_token`), answering which
# factor it was; the account page's `mfa` block (`user_id`).
CodeConfirm = Callable[..., str]
FactorSummary = Callable[..., dict[str, bool | int]]
# The mfa feature's: the 202 answer asking a user who proved who they are (`user`, `mode`,
# `request`, `options`) for the second factor, or None when the user has none.
LoginSecondStep = Callable[..., dict[str, Any] | None]
_hooks: dict[str, Callable[..., Any]] = {}


def factors_register(*, code_confirm: CodeConfirm, summary: FactorSummary) -> None:
    """Have the second factors' feature check codes and summarise a user's factors."""
    _hooks.update(code_confirm=code_confirm, summary=summary)


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
