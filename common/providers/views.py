"""The providers' endpoints: the list, nonces, ID-token logins, and my linked identities."""

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from common.api import Api, LoginAnswer, LoginKindApi, PublicApi
from common.conf import dualauth_settings
from common.credentials import csrf_enforce
from common.factors import login_second_step_begin
from common.permissions import FreshLogin
from common.providers.selectors import identity_list, provider_list
from common.providers.serializers import (
    LinkedProviderSerializer,
    ProviderNonceSerializer,
    ProviderSerializer,
    ProviderTokenInputSerializer,
    SecondFactorRequiredSerializer,
)
from common.providers.services import (
    ProviderSignIn,
    identity_link,
    identity_unlink,
    nonce_issue,
    provider_login_check,
)
from common.routes import Mode
from common.schema import DeclaredSchema
from common.serializers import ErrorSerializer
from common.throttling import AccountAddressThrottle

# 400 input or token, 401 no login, 403 CSRF or a login that is not fresh.
LOGIN_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
# What a provider that cannot be reached answers.
UNAVAILABLE = {503: ErrorSerializer}


def provider_login_answer(
    request: Request,
    sign_in: ProviderSignIn,
    *,
    mode: Mode,
    options: dict[str, Any],
    answer: LoginAnswer,
) -> Response:
    """A provider sign-in's answer: 202 asking for the user's second factor (unless the
    provider's own stands for it), else `answer`'s.
    """
    if not sign_in.second_factor:
        pending = login_second_step_begin(
            user=sign_in.user, mode=mode, request=request._request, options=options
        )
        if pending is not None:
            return Response(pending, status=status.HTTP_202_ACCEPTED)
    return answer(request, sign_in.user, options)


class ProviderListApi(PublicApi):
    """The external providers a client may offer, and how each signs in."""

    @extend_schema(responses={200: ProviderSerializer(many=True)})
    def get(self, request: Request) -> Response:
        """Every configured provider."""
        return Response(ProviderSerializer(provider_list(), many=True).data)


class ProviderNonceApi(PublicApi):
    """A single-use nonce to give a provider's SDK before it signs in."""

    # Each call keeps a nonce until it expires: as many per address as account calls.
    throttle_classes = [AccountAddressThrottle]
    throttle_scope = "provider-nonce"

    @extend_schema(request=None, responses={200: ProviderNonceSerializer, 400: ErrorSerializer})
    def post(self, request: Request) -> Response:
        """A nonce, and how long it may be used."""
        lifetime = int(dualauth_settings.PROVIDER_NONCE_LIFETIME.total_seconds())
        return Response({"nonce": nonce_issue(), "expires_in": lifetime})


class ProviderLoginApi(LoginKindApi):
    """Log in with an external provider's ID token, as the mode of `kind` answers; a browser's
    login checks CSRF, so there is no login CSRF.
    """

    schema = DeclaredSchema()

    def post(self, request: Request) -> Response:
        """Check the ID token and its nonce: the mode's answer, or 202 asking for a factor."""
        if self.login_kind.csrf:
            csrf_enforce(request)
        serializer = self.login_kind.provider_login_input(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        sign_in = provider_login_check(
            provider_id=data.pop("provider"),
            id_token=data.pop("id_token"),
            nonce=data.pop("nonce"),
            request=request._request,
            mode=self.login_kind.mode,
        )
        # What the login asked for besides the token, kept for its second step.
        return provider_login_answer(
            request, sign_in, mode=self.login_kind.mode, options=data, answer=self.login_kind.answer
        )

    def openapi_request(self) -> type[Serializer]:
        """The provider's token, its nonce, and the mode's options."""
        return self.login_kind.provider_login_input

    def openapi_responses(self) -> dict[int, Any]:
        """The mode's answer, or a second factor asked for."""
        return {
            200: self.login_kind.answer_serializer,
            202: SecondFactorRequiredSerializer,
            **LOGIN_ERRORS,
            409: ErrorSerializer,
            429: ErrorSerializer,
            **UNAVAILABLE,
        }

    def openapi_description(self) -> str:
        """What the login starts."""
        return (
            f"Start {self.login_kind.starts} for the provider identity's account (a new one "
            "for an unknown identity with a verified, unused address), or ask for a second "
            "factor."
        )


class LinkedProviderListApi(Api):
    """My linked provider identities; linking one needs a fresh login."""

    def get_permissions(self) -> Sequence[BasePermission]:
        """A fresh login to link; any login to list."""
        return [FreshLogin()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(responses={200: LinkedProviderSerializer(many=True), 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        """My identities, oldest first."""
        identities = identity_list(user_id=self.user.pk)
        return Response(LinkedProviderSerializer(identities, many=True).data)

    @extend_schema(
        request=ProviderTokenInputSerializer,
        responses={201: LinkedProviderSerializer, 409: ErrorSerializer, **LOGIN_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Link the identity an ID token (with a nonce of ours) proves."""
        serializer = ProviderTokenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        identity = identity_link(
            user_id=self.user.pk,
            provider_id=data["provider"],
            id_token=data["id_token"],
            nonce=data["nonce"],
            request=request._request,
        )
        return Response(LinkedProviderSerializer(identity).data, status=status.HTTP_201_CREATED)


class LinkedProviderDetailApi(Api):
    """One of my linked identities: unlink it with a fresh login."""

    permission_classes = [FreshLogin]

    @extend_schema(request=None, responses={204: None, 404: ErrorSerializer, **LOGIN_ERRORS})
    def delete(self, request: Request, identity_id: int) -> Response:
        """Unlink it, unless it is the account's last way to sign in."""
        identity_unlink(user_id=self.user.pk, identity_id=identity_id, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
