"""JWT mode: tokens in the body for mobile apps, in HttpOnly cookies for browsers."""

from typing import Any

from django.middleware.csrf import rotate_token
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import LoginKind, PublicApi
from common.conf import dualauth_settings
from common.credentials import CookieChallenge, csrf_enforce
from common.mfa.webauthn.serializers import PasskeyLoginInputSerializer
from common.principal import UserModel, principal_from_user
from common.providers.serializers import ProviderLoginInputSerializer
from common.routes import JWT_COOKIE, JWT_HEADER
from common.serializers import ErrorSerializer, ProfileSerializer
from common.throttling import device_cookie_set, device_token_issue
from jwt_auth.cookies import token_cookies_clear, token_cookies_set
from jwt_auth.dpop import HEADER as DPOP_HEADER
from jwt_auth.dpop import NONCE_HEADER, dpop_nonce_issue, dpop_token_proof
from jwt_auth.keys import key_set
from jwt_auth.serializers import (
    CookieLoginInputSerializer,
    CookieRefreshSerializer,
    JwksSerializer,
    TokenLogoutInputSerializer,
    TokenObtainInputSerializer,
    TokenObtainSerializer,
    TokenPairSerializer,
    TokenRefreshInputSerializer,
    TokenVerifyInputSerializer,
)
from jwt_auth.services import (
    TokenPair,
    token_logout,
    token_obtain,
    token_refresh,
    token_verify,
)
from jwt_auth.tokens import FamilyAccessToken, FamilyRefreshToken

# The proof of possession of a client's key that binds a login to it (RFC 9449).
DPOP_PROOF = OpenApiParameter(
    "DPoP",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="A DPoP proof (RFC 9449) of the client's key: it binds the login to the key, "
    "and a bound login's refresh needs one of the same key (400 `invalid_dpop_proof`, or "
    "`use_dpop_nonce` with a `DPoP-Nonce` header to sign the next proof with).",
)
# A token endpoint refuses a token that is invalid, expired, revoked or reused with 401.
TOKEN_REFUSED = {401: ErrorSerializer}
# A cookie endpoint refuses a missing or bad cookie with 401, a request without CSRF with 403.
COOKIE_REFUSED = {401: ErrorSerializer, 403: ErrorSerializer}


def _pair_body(pair: TokenPair) -> dict[str, object]:
    return dict(TokenPairSerializer(pair).data)


def _nonce_give(request: Request, response: Response) -> Response:
    """Give a client that sent a DPoP proof the nonce to sign its next ones with."""
    if dualauth_settings.DPOP_NONCE and DPOP_HEADER in request.META:
        response[NONCE_HEADER] = dpop_nonce_issue()
    return response


def token_login_precheck(request: Request) -> dict[str, Any]:
    """A token login's DPoP proof, checked (its nonce too) before the login's credentials are
    used: a client told `use_dpop_nonce` retries with the same challenge, nonce or code.
    """
    proof = dpop_token_proof(request._request)
    return {"dpop": proof} if proof is not None else {}


def token_login_answer(request: Request, user: UserModel, options: dict[str, Any]) -> Response:
    """A token login's answer: a new family's first pair, and a device token; no cookie. The
    proof its precheck verified (`dpop`) binds the family to the client's key.
    """
    pair = token_obtain(
        user=user,
        request=request._request,
        mode=JWT_HEADER,
        amr=options.get("amr", "pwd"),
        proof=options.get("dpop"),
    )
    return Response({**_pair_body(pair), "device_token": device_token_issue(user=user)})


def cookie_login_answer(request: Request, user: UserModel, options: dict[str, Any]) -> Response:
    """A cookie login's answer: the profile, the pair in HttpOnly cookies, a device cookie."""
    pair = token_obtain(
        user=user, request=request._request, mode=JWT_COOKIE, amr=options.get("amr", "pwd")
    )
    rotate_token(request._request)
    response = Response(ProfileSerializer(principal_from_user(user)).data)
    token_cookies_set(response, pair)
    device_cookie_set(response, device_token_issue(user=user))
    return response


# The token transports' logins, by password and by passkey (jwt_auth/urls.py).
TOKEN_LOGIN = LoginKind(
    mode=JWT_HEADER,
    answer=token_login_answer,
    answer_serializer=TokenObtainSerializer,
    login_input=TokenObtainInputSerializer,
    passkey_login_input=PasskeyLoginInputSerializer,
    provider_login_input=ProviderLoginInputSerializer,
    csrf=False,
    www_authenticate=PublicApi.www_authenticate,
    starts="a token family",
    precheck=token_login_precheck,
    # Every answer, the 202 of a second step's included, gives the nonce of the next proof.
    finish=_nonce_give,
)
COOKIE_LOGIN = LoginKind(
    mode=JWT_COOKIE,
    answer=cookie_login_answer,
    answer_serializer=ProfileSerializer,
    login_input=CookieLoginInputSerializer,
    passkey_login_input=PasskeyLoginInputSerializer,
    provider_login_input=ProviderLoginInputSerializer,
    csrf=True,
    www_authenticate=CookieChallenge("ACCESS_COOKIE_NAME"),
    starts="a token family held in cookies",
)


class TokenRefreshApi(PublicApi):
    """Rotate a refresh token: a new pair, the old refresh token unusable."""

    @extend_schema(
        request=TokenRefreshInputSerializer,
        parameters=[DPOP_PROOF],
        responses={200: TokenPairSerializer, 400: ErrorSerializer, **TOKEN_REFUSED},
    )
    def post(self, request: Request) -> Response:
        """Exchange the current refresh token for its successor."""
        serializer = TokenRefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proof = dpop_token_proof(request._request)
        pair = token_refresh(
            raw=serializer.validated_data["refresh"], request=request._request, proof=proof
        )
        return _nonce_give(request, Response(_pair_body(pair)))


class TokenVerifyApi(PublicApi):
    """Whether a token is valid and its login still live."""

    @extend_schema(request=TokenVerifyInputSerializer, responses={200: dict, **TOKEN_REFUSED})
    def post(self, request: Request) -> Response:
        """200 `{}` for a usable token, else 401."""
        serializer = TokenVerifyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token_verify(raw=serializer.validated_data["token"])
        return Response({})


class TokenLogoutApi(PublicApi):
    """End a token login: its refresh and access tokens are refused from now on."""

    @extend_schema(request=TokenLogoutInputSerializer, responses={204: None, **TOKEN_REFUSED})
    def post(self, request: Request) -> Response:
        """Revoke the refresh token's family."""
        serializer = TokenLogoutInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token_logout(
            raw=serializer.validated_data["refresh"],
            request=request._request,
            token_class=FamilyRefreshToken,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class CookieRefreshApi(PublicApi):
    """Rotate both token cookies; CSRF required."""

    www_authenticate = CookieChallenge("REFRESH_COOKIE_NAME")

    @extend_schema(request=None, responses={200: CookieRefreshSerializer, **COOKIE_REFUSED})
    def post(self, request: Request) -> Response:
        """Exchange the refresh cookie for new cookies."""
        csrf_enforce(request)
        raw = request.COOKIES.get(dualauth_settings.REFRESH_COOKIE_NAME)
        if not raw:
            raise NotAuthenticated()
        pair = token_refresh(raw=raw, request=request._request)
        response = Response({"expires_in": pair.expires_in})
        token_cookies_set(response, pair)
        return response


class CookieLogoutApi(PublicApi):
    """End a cookie login: both cookies cleared, the family revoked; CSRF required."""

    www_authenticate = CookieChallenge("REFRESH_COOKIE_NAME")

    @extend_schema(request=None, responses={204: None, **COOKIE_REFUSED})
    def post(self, request: Request) -> Response:
        """Log out of a cookie login, by its refresh cookie or else its access cookie."""
        csrf_enforce(request)
        refresh = request.COOKIES.get(dualauth_settings.REFRESH_COOKIE_NAME)
        access = request.COOKIES.get(dualauth_settings.ACCESS_COOKIE_NAME)
        if refresh:
            token_logout(raw=refresh, request=request._request, token_class=FamilyRefreshToken)
        elif access:
            token_logout(raw=access, request=request._request, token_class=FamilyAccessToken)
        else:
            raise NotAuthenticated()
        response = Response(status=status.HTTP_204_NO_CONTENT)
        token_cookies_clear(response)
        return response


class JwksApi(PublicApi):
    """The public keys that verify this service's tokens; 404 with a symmetric algorithm."""

    @extend_schema(responses={200: JwksSerializer, 404: ErrorSerializer})
    def get(self, request: Request) -> Response:
        """The JWK set."""
        keys = key_set().public_jwks
        if not keys:
            raise NotFound("No public keys: tokens are signed with a shared secret.")
        return Response({"keys": keys})
