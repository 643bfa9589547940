"""What the shared endpoints leave to each mode: the signals its app's receivers answer.

The shared resolver's endpoints (common/views.py, the accounts feature) know no mode's
credentials; a mode connects to these signals in its AppConfig.ready() and does its part.
"""

from typing import Any

from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse

from common.credentials import Credential

# Sent with `request`, `user` and `credential` when the user changed the password through the
# login `credential`, which is kept: its mode renews what the new password invalidates.
password_changed = Signal()
# Sent with `request` and `response` when every login of the requester ended (logged out
# everywhere, the account deleted): each mode forgets what this browser still holds.
browser_logins_ended = Signal()


def password_changed_announce(*, request: HttpRequest, user: Any, credential: Credential) -> None:
    """Tell the modes that `user` changed the password through the kept login `credential`."""
    password_changed.send(sender=None, request=request, user=user, credential=credential)


def browser_logins_end(*, request: HttpRequest, response: HttpResponse) -> None:
    """Have each mode forget, in `response`, the credentials this browser holds."""
    browser_logins_ended.send(sender=None, request=request, response=response)
