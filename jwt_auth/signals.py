"""The token cookies' part in the shared endpoints (common/hooks.py)."""

from typing import Any

from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from common.hooks import browser_logins_ended
from jwt_auth.cookies import token_cookies_clear


@receiver(browser_logins_ended, dispatch_uid="dualauth_token_cookies_clear")
def token_cookies_forget(
    sender: Any, *, request: HttpRequest, response: HttpResponse, **kwargs: Any
) -> None:
    """Expire this browser's token cookies, whose login just ended."""
    token_cookies_clear(response)
