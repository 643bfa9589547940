"""The passkey endpoints: add, list, rename, remove my passkeys; a passwordless login's options."""

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from common.api import Api, LoginKindApi, PublicApi
from common.mfa.webauthn.selectors import passkey_list, passkey_login_methods
from common.mfa.webauthn.serializers import (
    PasskeyLoginOptionsSerializer,
    PasskeyNameInputSerializer,
    PasskeyRegisterInputSerializer,
    PasskeySerializer,
)
from common.mfa.webauthn.services import (
    passkey_delete,
    passkey_login_check,
    passkey_login_options,
    passkey_register,
    passkey_registration_options,
    passkey_rename,
)
from common.permissions import FreshLogin
from common.schema import DeclaredSchema
from common.serializers import ErrorSerializer
from common.throttling import AccountAddressThrottle

# 400 input or passkey, 401 no login, 403 CSRF or a login that is not fresh.
LOGIN_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}


def _passkey(passkey: Any) -> dict[str, Any]:
    return dict(PasskeySerializer(passkey).data)


class PasskeyOptionsApi(Api):
    """Begin adding a passkey: a fresh login gets creation options for its browser."""

    permission_classes = [FreshLogin]

    @extend_schema(request=None, responses={200: dict, **LOGIN_ERRORS})
    def post(self, request: Request) -> Response:
        """Creation options (WebAuthn JSON); their challenge waits for this login's answer."""
        options = passkey_registration_options(
            user_id=self.user.pk, family_id=self.credential.family_id, request=request._request
        )
        return Response(options)


class PasskeyListApi(Api):
    """My passkeys; adding one answers the options this login was given."""

    @extend_schema(responses={200: PasskeySerializer(many=True), 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        """My passkeys, oldest first, each with when it was last used."""
        return Response(PasskeySerializer(passkey_list(user_id=self.user.pk), many=True).data)

    @extend_schema(
        request=PasskeyRegisterInputSerializer, responses={201: PasskeySerializer, **LOGIN_ERRORS}
    )
    def post(self, request: Request) -> Response:
        """Add the passkey the browser made from this login's options."""
        serializer = PasskeyRegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        passkey = passkey_register(
            user_id=self.user.pk,
            family_id=self.credential.family_id,
            request=request._request,
            **serializer.validated_data,
        )
        return Response(_passkey(passkey), status=status.HTTP_201_CREATED)


class PasskeyDetailApi(Api):
    """One of my passkeys: rename it, or remove it with a fresh login."""

    def get_permissions(self) -> Sequence[BasePermission]:
        """A fresh login to remove a factor; any login to rename one."""
        return [FreshLogin()] if self.request.method == "DELETE" else [IsAuthenticated()]

    @extend_schema(
        request=PasskeyNameInputSerializer,
        responses={200: PasskeySerializer, 404: ErrorSerializer, **LOGIN_ERRORS},
    )
    def patch(self, request: Request, passkey_id: int) -> Response:
        """Rename the passkey."""
        serializer = PasskeyNameInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        passkey = passkey_rename(
            user_id=self.user.pk,
            passkey_id=passkey_id,
            request=request._request,
            **serializer.validated_data,
        )
        return Response(_passkey(passkey))

    @extend_schema(request=None, responses={204: None, 404: ErrorSerializer, **LOGIN_ERRORS})
    def delete(self, request: Request, passkey_id: int) -> Response:
        """Remove the passkey; when it was the last factor, the user is told by mail."""
        passkey_delete(user_id=self.user.pk, passkey_id=passkey_id, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasskeyLoginOptionsApi(PublicApi):
    """Begin a passwordless login: a challenge any of the site's discoverable passkeys answers."""

    # Each call keeps a challenge until it expires: as many per address as account calls.
    throttle_classes = [AccountAddressThrottle]
    throttle_scope = "passkey-login-options"

    @extend_schema(
        request=None,
        responses={200: PasskeyLoginOptionsSerializer, 400: ErrorSerializer, 429: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        """The challenge's token, and the request options (WebAuthn JSON) for the browser."""
        return Response(passkey_login_options(request=request._request))


class PasskeyLoginApi(LoginKindApi):
    """Log in with a passkey alone, as the mode of `kind` answers: the passkey is both factors,
    so the login never asks for another; a browser's login checks CSRF.
    """

    schema = DeclaredSchema()

    def post(self, request: Request) -> Response:
        """Check the passkey's answer to the login's options: the mode's answer."""
        data, checked = self.login_input(request, self.login_kind.passkey_login_input)
        credential = data.pop("credential")
        user = passkey_login_check(
            challenge_token=data.pop("challenge_token"),
            credential=credential,
            request=request._request,
            mode=self.login_kind.mode,
        )
        # What the login asked for besides the passkey's answer, and how the user proved it.
        data["amr"] = passkey_login_methods(credential=credential)
        return self.login_kind.answer(request, user, {**data, **checked})

    def openapi_request(self) -> type[Serializer]:
        """The passkey's answer, and the mode's options."""
        return self.login_kind.passkey_login_input

    def openapi_responses(self) -> dict[int, Any]:
        """The mode's answer."""
        return {
            200: self.login_kind.answer_serializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            429: ErrorSerializer,
        }

    def openapi_description(self) -> str:
        """What the login starts."""
        return (
            f"Start {self.login_kind.starts} for the passkey's owner: the passkey is both factors."
        )
