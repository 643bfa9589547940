"""The providers' endpoints: the list, nonces, ID-token logins, and my linked identities."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.http import HttpResponse, HttpResponseRedirect
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotAuthenticated, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from common.api import Api, LoginAnswer, LoginKind, LoginKindApi, PublicApi
from common.authentication import ResolverAuthentication
from common.conf import dualauth_settings
from common.credentials import Credential
from common.exceptions import ReauthenticationRequired
from common.factors import login_second_step_begin
from common.permissions import FreshLogin
from common.providers.exceptions import (
    ProviderDenied,
    ProviderNotConfigured,
    ProviderStateNotValid,
)
from common.providers.redirects import (
    LINK,
    code_redeem,
    error_url,
    frontend_redirect_url,
    mfa_url,
    next_is_safe,
    redirect_begin,
    redirect_state_read,
    state_cookie_clear,
)
from common.providers.registry import provider_get
from common.providers.selectors import identity_list, provider_list
from common.providers.serializers import (
    LinkedProviderSerializer,
    ProviderCallbackInputSerializer,
    ProviderNonceSerializer,
    ProviderRedirectInputSerializer,
    ProviderSerializer,
    ProviderTokenInputSerializer,
)
from common.providers.services import (
    ProviderSignIn,
    identity_create,
    identity_link,
    identity_unlink,
    nonce_issue,
    provider_login_check,
    provider_sign_in,
    provider_token_check,
)
from common.routes import SHARED_ROUTES, Mode, api_prefix, mode_of
from common.schema import DeclaredSchema
from common.serializers import ErrorSerializer, MfaRequiredSerializer
from common.throttling import (
    AccountAddressThrottle,
    login_address_attempt_reserve,
    login_attempt_release,
)

# 400 input or token, 401 no login, 403 CSRF or a login that is not fresh.
LOGIN_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
# What a provider that cannot be reached answers.
UNAVAILABLE = {503: ErrorSerializer}


def provider_login_answer(
    request: Request,
    sign_in: ProviderSignIn,
    *,
    kind: LoginKind,
    options: dict[str, Any],
    checked: dict[str, Any],
) -> Response:
    """A provider sign-in's answer: 202 asking for the user's second factor (unless the
    provider's own stands for it), else the answer of `kind` given `options` and what its
    precheck `checked`.
    """
    if not sign_in.second_factor:
        pending = login_second_step_begin(
            user=sign_in.user, mode=kind.mode, request=request._request, options=options
        )
        if pending is not None:
            return Response(pending, status=status.HTTP_202_ACCEPTED)
    return kind.answer(request, sign_in.user, {**options, **checked})


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
        data, checked = self.login_input(request, self.login_kind.provider_login_input)
        sign_in = provider_login_check(
            provider_id=data.pop("provider"),
            id_token=data.pop("id_token"),
            nonce=data.pop("nonce"),
            request=request._request,
            mode=self.login_kind.mode,
        )
        # What the login asked for besides the token, kept for its second step, and how the
        # user proved who they are so far.
        data["amr"] = sign_in.amr
        return provider_login_answer(
            request, sign_in, kind=self.login_kind, options=data, checked=checked
        )

    def openapi_request(self) -> type[Serializer]:
        """The provider's token, its nonce, and the mode's options."""
        return self.login_kind.provider_login_input

    def openapi_responses(self) -> dict[int, Any]:
        """The mode's answer, or a second factor asked for."""
        return {
            200: self.login_kind.answer_serializer,
            202: MfaRequiredSerializer,
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


class ProviderRedirectApi(PublicApi):
    """Begin a browser's sign-in at the provider: a redirect there, the state in a cookie.

    Any failure comes back to the SPA as a code in the fragment, never as a page.
    """

    @extend_schema(
        parameters=[ProviderRedirectInputSerializer],
        responses={
            302: OpenApiResponse(description="To the provider, or to the SPA's error page"),
            400: ErrorSerializer,
        },
    )
    def get(self, request: Request, provider_id: str) -> HttpResponse:
        """Redirect to the provider's authorization endpoint (code, PKCE S256, state, nonce).

        A malformed query (what the SPA built) is a 400; every other failure goes back to the
        SPA as a code in the fragment.
        """
        serializer = ProviderRedirectInputSerializer(data=request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        mode, next_path = serializer.validated_data["mode"], serializer.validated_data["next"]
        if not next_is_safe(next_path):
            raise ValidationError({"next": ["Must be a path of this site."]})
        response = HttpResponseRedirect("/")
        try:
            provider = provider_get(provider_id=provider_id)
            if not provider.client_secret:
                raise ProviderNotConfigured()
            login = self._linking_login(request) if mode == LINK else None
            response["Location"] = redirect_begin(
                provider=provider,
                mode=mode,
                next_path=next_path,
                callback_url=_callback_url(request, provider_id),
                response=response,
                user_id=str(login[0].pk) if login else "",
                family_id=str(login[1].family_id) if login else "",
            )
        except APIException as e:
            return HttpResponseRedirect(error_url(request=request._request, code=_code(e)))
        return response

    def _linking_login(self, request: Request) -> tuple[Any, Credential]:
        """The fresh login asking to link; 401 without one, 403 when it is not fresh."""
        found = ResolverAuthentication().authenticate(request)
        if found is None:
            raise NotAuthenticated()
        principal, credential = found
        if credential.fresh_until <= timezone.now():
            raise ReauthenticationRequired()
        return principal, credential


# What a provider sends back (RFC 6749 4.1.2): any value, since any is answered by a redirect.
CALLBACK_PARAMETERS = {
    "code": "The authorization code.",
    "state": "The state the sign-in began with.",
    "error": "The provider's error instead of a code (`access_denied`: the user said no).",
}


class ProviderCallbackApi(PublicApi):
    """Where the provider sends the browser back: sign in (or link), then on to the SPA."""

    # Each mode's login answer, by mode (common/urls.py).
    answers: Mapping[Mode, LoginAnswer] = {}

    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, description=description)
            for name, description in CALLBACK_PARAMETERS.items()
        ],
        responses={302: OpenApiResponse(description="To the SPA: signed in, or a code")},
    )
    def get(self, request: Request, provider_id: str) -> HttpResponse:
        """Check the state, redeem the code with PKCE, check the ID token, answer as the mode."""
        try:
            response = self._complete(request, provider_id)
        except APIException as e:
            response = HttpResponseRedirect(error_url(request=request._request, code=_code(e)))
        state_cookie_clear(response)
        return response

    def _complete(self, request: Request, provider_id: str) -> HttpResponse:
        serializer = ProviderCallbackInputSerializer(data=request.query_params.dict())
        if not serializer.is_valid():
            raise ProviderStateNotValid()
        query = serializer.validated_data
        pending = redirect_state_read(
            request=request._request, provider_id=provider_id, state=query["state"]
        )
        if query["error"] or not query["code"]:
            raise ProviderDenied()
        provider = provider_get(provider_id=provider_id)
        if pending.mode == LINK:
            return self._link(request, provider, pending, query["code"])
        mode = mode_of(pending.mode)
        counters = login_address_attempt_reserve(
            request=request._request, mode=mode, method="provider"
        )
        claims = self._claims(request, provider, pending, query["code"], mode)
        login_attempt_release(counters)
        sign_in = provider_sign_in(
            provider=provider, claims=claims, request=request._request, mode=mode
        )
        options: dict[str, Any] = {"remember": True, "device_token": "", "amr": sign_in.amr}
        if not sign_in.second_factor:
            second = login_second_step_begin(
                user=sign_in.user, mode=mode, request=request._request, options=options
            )
            if second is not None:
                return HttpResponseRedirect(mfa_url(request=request._request, pending=second))
        answer = self.answers[mode](request, sign_in.user, options)
        response = HttpResponseRedirect(
            frontend_redirect_url(request=request._request, path=pending.next)
        )
        for name, morsel in answer.cookies.items():
            response.cookies[name] = morsel
        return response

    def _claims(
        self, request: Request, provider: Any, pending: Any, code: str, mode: Mode | None
    ) -> dict[str, Any]:
        id_token = code_redeem(
            provider=provider,
            code=code,
            verifier=pending.verifier,
            callback_url=_callback_url(request, provider.id),
        )
        return provider_token_check(
            provider=provider,
            id_token=id_token,
            nonce=pending.nonce,
            request=request._request,
            mode=mode,
        )

    def _link(self, request: Request, provider: Any, pending: Any, code: str) -> HttpResponse:
        """Link the identity to the login that asked, if this browser still holds it."""
        found = ResolverAuthentication().authenticate(request)
        if (
            found is None
            or str(found[0].pk) != pending.user_id
            or str(found[1].family_id) != pending.family_id
        ):
            raise NotAuthenticated()
        claims = self._claims(request, provider, pending, code, None)
        identity_create(
            user_id=found[0].pk, provider=provider, claims=claims, request=request._request
        )
        return HttpResponseRedirect(
            frontend_redirect_url(request=request._request, path=pending.next)
        )


def _callback_url(request: Request, provider_id: str) -> str:
    """The absolute URL the provider sends the browser back to (registered with it)."""
    route = SHARED_ROUTES["provider-callback"].replace("<str:provider_id>", provider_id)
    return request._request.build_absolute_uri(api_prefix() + route)


def _code(exc: APIException) -> str:
    """The code of an error, as the SPA reads it."""
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else "validation_error"
