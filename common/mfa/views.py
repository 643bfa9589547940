"""The second-factor endpoints, and the answer every login endpoint gives a right password."""

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from common.api import Api, LoginKind, LoginKindApi, PublicApi
from common.logins import login_credentials_check
from common.mfa.login import PASSWORD_METHOD, mfa_login_begin, mfa_login_complete
from common.mfa.selectors import recovery_codes_left
from common.mfa.serializers import (
    LOGIN_ANSWER_SERIALIZERS,
    MfaAuthenticateInputSerializer,
    RecoveryCodesLeftSerializer,
    RecoveryCodesSerializer,
    TotpCodeInputSerializer,
    TotpSetupSerializer,
)
from common.mfa.services import (
    recovery_codes_generate,
    totp_disable,
    totp_enable,
    totp_setup_get,
)
from common.permissions import FreshLogin
from common.principal import UserModel
from common.routes import Mode
from common.schema import DeclaredSchema
from common.serializers import ErrorSerializer, MfaRequiredSerializer

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}


def login_answer(
    request: Request,
    user: UserModel,
    *,
    kind: LoginKind,
    options: dict[str, Any],
    checked: dict[str, Any],
) -> Response:
    """A right password's answer: 202 `mfa_required` when the user has a second factor, else
    the answer of `kind` given `options` and what its precheck `checked`.
    """
    pending = mfa_login_begin(user=user, mode=kind.mode, request=request._request, options=options)
    if pending is not None:
        return Response(pending, status=status.HTTP_202_ACCEPTED)
    return kind.answer(request, user, {**options, **checked})


class PasswordLoginApi(LoginKindApi):
    """Log in with a username and a password, as the mode of `kind` answers; a browser's
    login checks CSRF, so there is no login CSRF.
    """

    schema = DeclaredSchema()

    def post(self, request: Request) -> Response:
        """Check the credentials: the mode's answer, or 202 asking for a second factor."""
        data, checked = self.login_input(request, self.login_kind.login_input)
        username, password = data.pop("username"), data.pop("password")
        user = login_credentials_check(
            username=username,
            password=password,
            device_token=data["device_token"],
            request=request._request,
            mode=self.login_kind.mode,
        )
        # What the login asked for besides the credentials, kept for its second step, and how
        # the user proved who they are so far.
        data["amr"] = PASSWORD_METHOD
        return login_answer(request, user, kind=self.login_kind, options=data, checked=checked)

    def openapi_request(self) -> type[Serializer]:
        """The mode's credentials."""
        return self.login_kind.login_input

    def openapi_responses(self) -> dict[int, Any]:
        """The mode's answer, or a second factor asked for."""
        return {
            200: self.login_kind.answer_serializer,
            202: MfaRequiredSerializer,
            **ERRORS,
            429: ErrorSerializer,
        }

    def openapi_description(self) -> str:
        """What the login starts."""
        return f"Start {self.login_kind.starts}, or ask for a second factor."


class MfaAuthenticateApi(PublicApi):
    """Complete a login with its second factor: the answer of the login endpoint it began at."""

    # Each mode's login kind, by mode (common/urls.py): the second step answers as its first.
    kinds: Mapping[Mode, LoginKind] = {}

    @extend_schema(
        request=MfaAuthenticateInputSerializer,
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="LoginAnswer",
                    serializers=LOGIN_ANSWER_SERIALIZERS,
                    resource_type_field_name=None,
                ),
                description="What the login endpoint the login began at answers: the profile "
                "and its cookies (session, jwt-cookie), or the token pair (jwt-header).",
            ),
            429: ErrorSerializer,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        """A code from the app, a recovery code, or a passkey's answer."""
        serializer = MfaAuthenticateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        login = mfa_login_complete(
            request=request._request,
            precheck=lambda mode: self.kinds[mode].precheck(request),
            **serializer.validated_data,
        )
        kind = self.kinds[login.mode]
        return kind.finish(request, kind.answer(request, login.user, login.options))


class TotpDetailApi(Api):
    """My authenticator app: set it up, enable it with a code, remove it."""

    permission_classes = [FreshLogin]

    @extend_schema(responses={200: TotpSetupSerializer, 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        """Whether it is enabled; until then, the secret to scan."""
        return Response(totp_setup_get(user_id=self.user.pk, family_id=self.credential.family_id))

    @extend_schema(
        request=TotpCodeInputSerializer, responses={201: RecoveryCodesSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        """Enable the app with a first code; the recovery codes, shown this once."""
        serializer = TotpCodeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        codes = totp_enable(
            user_id=self.user.pk,
            family_id=self.credential.family_id,
            request=request._request,
            **serializer.validated_data,
        )
        return Response({"recovery_codes": codes}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None, **ERRORS})
    def delete(self, request: Request) -> Response:
        """Remove the app."""
        totp_disable(user_id=self.user.pk, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecoveryCodeListApi(Api):
    """My recovery codes: how many are left, or a new set."""

    permission_classes = [FreshLogin]

    @extend_schema(responses={200: RecoveryCodesLeftSerializer, 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        """How many codes are unused."""
        return Response({"remaining": recovery_codes_left(user_id=self.user.pk)})

    @extend_schema(request=None, responses={200: RecoveryCodesSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        """A new set, shown this once; the old codes die."""
        codes = recovery_codes_generate(user_id=self.user.pk, request=request._request)
        return Response({"recovery_codes": codes})
