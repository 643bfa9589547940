"""Every Django login is a login family, and every Django logout ends one; the session's part in
the shared endpoints (common/hooks.py).
"""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from common.credentials import Credential
from common.hooks import browser_logins_ended, password_changed
from common.routes import SESSION
from session_auth.services import (
    session_family_end,
    session_family_start,
    session_password_changed,
)


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


@receiver(password_changed, dispatch_uid="dualauth_session_password_changed")
def session_password_kept(
    sender: Any, *, request: HttpRequest, user: Any, credential: Credential, **kwargs: Any
) -> None:
    """Keep the session the password was changed through: a new key, and the new hash."""
    if credential.mode == SESSION:
        session_password_changed(request=request, user=user)


@receiver(browser_logins_ended, dispatch_uid="dualauth_session_flush")
def session_forget(
    sender: Any, *, request: HttpRequest, response: HttpResponse, **kwargs: Any
) -> None:
    """Empty this browser's session, whose login just ended."""
    request.session.flush()
