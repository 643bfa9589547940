"""The second factors as the account sees them: hooks the mfa feature registers.

The account checks a second-factor code at re-authentication and shows the factors on its
page without importing the mfa feature: common's ready() registers the mfa feature's
functions here (`factors_register`).
"""

from collections.abc import Callable

from django.http import HttpRequest

from common.principal import UserId, UserModel

# Checks a code of the user's (`user`, `code`, `request`, `device_token`); which factor it was.
CodeConfirm = Callable[..., str]
# The account page's `mfa` block of a user (`user_id`).
FactorSummary = Callable[..., dict[str, bool | int]]
_code_confirm: list[CodeConfirm] = []
_summary: list[FactorSummary] = []


def factors_register(*, code_confirm: CodeConfirm, summary: FactorSummary) -> None:
    """Have the second factors' feature check codes and summarise a user's factors."""
    _code_confirm[:] = [code_confirm]
    _summary[:] = [summary]


def factor_code_confirm(
    *, user: UserModel, code: str, request: HttpRequest, device_token: str = ""
) -> str:
    """Check a second-factor code of `user`, counted as a login attempt; which factor it was."""
    return _code_confirm[0](user=user, code=code, request=request, device_token=device_token)


def factors_summary(*, user_id: UserId) -> dict[str, bool | int]:
    """The user's second factors, as the account page shows them."""
    return _summary[0](user_id=user_id)
