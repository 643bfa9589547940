"""The Django admin inside the login model: its logins are throttled, audited families."""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from rest_framework.exceptions import Throttled

from common.csp import PAGE_CSP
from common.exceptions import EmailNotVerified, InvalidCredentials, MfaCodeNotValid
from common.logins import login_credentials_check
from common.mfa.selectors import mfa_methods
from common.mfa.services import mfa_code_confirm
from common.routes import SESSION
from common.serializers import CODE_MAX_LENGTH

View = TypeVar("View", bound=Callable[..., Any])


class FamilyAdminLoginForm(AdminAuthenticationForm):
    """The admin's login form, checking credentials as every API login endpoint does.

    A user with a second factor adds a code of it (an app's, or a recovery code) in the
    same form: a password alone opens nothing.
    """

    code = forms.CharField(
        label="Code (two-step sign-in)",
        required=False,
        max_length=CODE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )

    def clean(self) -> dict[str, Any]:
        """Throttle, audit and check the credentials and any second factor; then Django's staff
        check.
        """
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        assert self.request is not None, "the admin's login view passes its request"
        try:
            self.user_cache = login_credentials_check(
                username=username,
                password=password,
                request=self.request,
                mode=SESSION,
            )
            if mfa_methods(user_id=self.user_cache.pk):
                mfa_code_confirm(
                    user=self.user_cache,
                    code=self.cleaned_data.get("code", ""),
                    request=self.request,
                )
        except Throttled as e:
            raise forms.ValidationError(
                "Too many failed logins. %(detail)s", code="throttled", params={"detail": e.detail}
            ) from e
        except InvalidCredentials as e:
            raise self.get_invalid_login_error() from e
        except (EmailNotVerified, MfaCodeNotValid) as e:
            raise forms.ValidationError(str(e.detail), code=str(e.default_code)) from e
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class FamilyAdminSite(admin.AdminSite):
    """Django's admin site with the family-aware login form.

    The login itself is Django's `login()`, which makes the session a family
    (session_auth/signals.py); `request.user` comes from a live family only
    (session_auth/middleware.py), so a revoked or expired login is logged out here too. Every
    page answers under the site's page policy (Django's admin needs no inline script or style).
    """

    login_form = FamilyAdminLoginForm
    login_template = "dualauth/admin/login.html"

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        """Django's wrapping of every admin view but the login, and the page policy."""
        return cast(View, _with_page_csp(super().admin_view(view, cacheable)))

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """Django's admin login, under the page policy."""
        response = super().login(request, extra_context)
        response.setdefault("Content-Security-Policy", PAGE_CSP)
        return response


def _with_page_csp(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """`view`, its answers under the page policy unless it set one of its own."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", PAGE_CSP)
        return response

    return wrapped
