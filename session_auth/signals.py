"""Every Django login is a login family, and every Django logout ends one."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from session_auth.services import session_family_end, session_family_start


@receiver(user_logged_in, dispatch_uid="dualauth_session_family_start")
def session_logged_in(sender: type, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Record the session a login started, wherever `login()` was called, as a family."""
    if request is not None and hasattr(request, "session"):
        session_family_start(request=request, user=user)


@receiver(user_logged_out, dispatch_uid="dualauth_session_family_end")
def session_logged_out(sender: type, request: HttpRequest | None, **kwargs: Any) -> None:
    """Revoke the family of the session a logout is ending."""
    if request is not None and hasattr(request, "session"):
        session_family_end(request=request, reason="logout")
