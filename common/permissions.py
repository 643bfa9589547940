"""Step-up (RFC 9470): endpoints that need a recent or a strong proof of who the user is."""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.request import Request

from common.conf import dualauth_settings
from common.credentials import Credential
from common.exceptions import InsufficientUserAuthentication, ReauthenticationRequired
from common.routes import SESSION

# The schemes a JWT mode's step-up challenge names: the one the request used.
DPOP_SCHEME = "DPoP"
BEARER_SCHEME = "Bearer"


def acr_met(acr: str, methods: frozenset[str]) -> bool:
    """Whether a login proved by `methods` reaches `acr` (ACR_VALUES); an unmapped one never."""
    needed = dualauth_settings.ACR_VALUES.get(acr)
    return needed is not None and set(needed) <= methods


class StepUp(IsAuthenticated):
    """A login whose user proved who they are recently enough, and by the methods asked for.

    `max_age` bounds the time since the login's last authentication (`auth_time`);
    `methods` asks for any one of these `amr` values; `acr_values` for any one of these
    levels (ACR_VALUES). Anything less is a 401 `insufficient_user_authentication`, with
    the RFC 9470 challenge in the JWT modes. A project's own view uses
    `StepUp.requiring(max_age=timedelta(minutes=5))` as a permission class.
    """

    max_age: timedelta | None = None
    methods: frozenset[str] = frozenset()
    acr_values: tuple[str, ...] = ()
    # Reads go through whatever the login's age or method.
    reads_exempt = False

    @classmethod
    def requiring(
        cls,
        *,
        max_age: timedelta | None = None,
        methods: tuple[str, ...] = (),
        acr_values: tuple[str, ...] = (),
    ) -> type["StepUp"]:
        """A permission class asking for these, for a view's `permission_classes`."""
        return type(
            cls.__name__,
            (cls,),
            {"max_age": max_age, "methods": frozenset(methods), "acr_values": tuple(acr_values)},
        )

    def required_max_age(self) -> timedelta | None:
        """The longest time since the login's last authentication that this permission takes."""
        return self.max_age

    def has_permission(self, request: Request, view: Any) -> bool:
        """Whether the request may go on; raises for a login too old or of too weak a method."""
        if not super().has_permission(request, view):
            return False
        if self.reads_exempt and request.method in SAFE_METHODS:
            return True
        credential = request.auth
        assert isinstance(credential, Credential)
        max_age = self.required_max_age()
        authenticated = datetime.fromtimestamp(credential.authenticated_at, tz=UTC)
        if max_age is not None and authenticated + max_age <= timezone.now():
            raise self.insufficient(request, credential, max_age=max_age)
        if self.methods and not self.methods & credential.methods:
            raise self.insufficient(request, credential, max_age=None)
        if self.acr_values and not any(acr_met(acr, credential.methods) for acr in self.acr_values):
            raise self.insufficient(request, credential, max_age=None)
        return True

    def insufficient(
        self, request: Request, credential: Credential, *, max_age: timedelta | None
    ) -> APIException:
        """The answer to a login that is not enough: 401 with the RFC 9470 challenge."""
        description = (
            "A more recent authentication is required"
            if max_age is not None
            else "A stronger authentication method is required"
        )
        parameters = [
            'error="insufficient_user_authentication"',
            f'error_description="{description}"',
        ]
        if max_age is not None:
            parameters.append(f"max_age={int(max_age.total_seconds())}")
        acr_values = self.acr_values or tuple(
            acr
            for acr, needed in dualauth_settings.ACR_VALUES.items()
            if self.methods & set(needed)
        )
        if max_age is None and acr_values:
            parameters.append(f'acr_values="{" ".join(acr_values)}"')
        if credential.mode == SESSION:
            challenge = 'Session realm="api", ' + ", ".join(parameters)
        else:
            scheme = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")[0]
            scheme = DPOP_SCHEME if scheme.lower() == "dpop" else BEARER_SCHEME
            challenge = f"{scheme} " + ", ".join(parameters)
        return InsufficientUserAuthentication(
            f"{description}: authenticate again.", headers={"WWW-Authenticate": challenge}
        )


class FreshLogin(StepUp):
    """Any login may read; an unsafe method needs a fresh one, else 403 `reauthentication_required`.

    Freshness (REAUTH_WINDOW) comes with the credential, from the same cache read that
    authenticated it: the fresh-login window is a step-up by `max_age` with its own answer.
    """

    reads_exempt = True

    def required_max_age(self) -> timedelta | None:
        """REAUTH_WINDOW."""
        return dualauth_settings.REAUTH_WINDOW

    def insufficient(
        self, request: Request, credential: Credential, *, max_age: timedelta | None
    ) -> APIException:
        """403 `reauthentication_required`, as the contract has it."""
        return ReauthenticationRequired()
