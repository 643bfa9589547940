"""Sudo mode: sensitive changes need a login that proved its user recently."""

from typing import Any

from django.utils import timezone
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.request import Request

from common.credentials import Credential
from common.exceptions import ReauthenticationRequired


class FreshLogin(IsAuthenticated):
    """Any login may read; an unsafe method needs a fresh one, else 403 `reauthentication_required`.

    Freshness comes with the credential, from the same cache read that authenticated it.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        """Whether the request may go on; raises for a login that is not fresh."""
        if not super().has_permission(request, view):
            return False
        if request.method in SAFE_METHODS:
            return True
        assert isinstance(request.auth, Credential)
        if request.auth.fresh_until <= timezone.now():
            raise ReauthenticationRequired()
        return True
