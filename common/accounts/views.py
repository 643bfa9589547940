"""The account endpoints: public ones answer the same whoever asks; the others need a login."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from common.accounts.selectors import account_get
from common.accounts.serializers import (
    AcceptedSerializer,
    AccountSerializer,
    EmailInputSerializer,
    EmailVerifiedSerializer,
    EmailVerifyInputSerializer,
    KeyInputSerializer,
    PasswordResetConfirmInputSerializer,
    ReauthenticatedSerializer,
    ReauthenticateInputSerializer,
    SignupInputSerializer,
    UndoneSerializer,
)
from common.accounts.services import (
    account_delete,
    account_signup,
    email_change_request,
    email_verification_resend,
    email_verify,
    login_reauthenticate,
    password_reset_confirm,
    password_reset_request,
    signin_change_undo,
)
from common.api import Api, PublicApi
from common.conf import dualauth_settings
from common.hooks import browser_logins_end
from common.permissions import FreshLogin
from common.serializers import ErrorSerializer
from common.throttling import AccountAddressThrottle

MAIL_SENT = {"detail": "If the address can receive it, a mail is on its way.", "code": "mail_sent"}
# The errors each kind of endpoint documents: 400 input or key, 403 CSRF or freshness, 429.
PUBLIC_ERRORS = {400: ErrorSerializer, 429: ErrorSerializer}
LOGIN_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
ACCEPTED = {202: AcceptedSerializer, **PUBLIC_ERRORS}


def _accepted(body: dict[str, str]) -> Response:
    return Response(body, status=status.HTTP_202_ACCEPTED)


class AccountSignupApi(PublicApi):
    """Sign up; the answer is the same whether or not the address already has an account."""

    throttle_classes = [AccountAddressThrottle]
    throttle_scope = "signup"

    @extend_schema(request=SignupInputSerializer, responses=ACCEPTED)
    def post(self, request: Request) -> Response:
        """Create an account and mail its verification key."""
        serializer = SignupInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account_signup(request=request._request, **serializer.validated_data)
        if dualauth_settings.EMAIL_VERIFICATION == "none":
            return _accepted({"detail": "Check your mail, then log in.", "code": "signup_complete"})
        return _accepted(
            {"detail": "Check your mail to verify your address.", "code": "verification_sent"}
        )


class EmailVerifyApi(PublicApi):
    """Verify an address with the key mailed to it."""

    throttle_classes = [AccountAddressThrottle]
    throttle_scope = "email-verify"

    @extend_schema(
        request=EmailVerifyInputSerializer,
        responses={200: EmailVerifiedSerializer, **PUBLIC_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Verify a new account's address (with its password), or move the account to its new
        one.
        """
        serializer = EmailVerifyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = email_verify(request=request._request, **serializer.validated_data)
        return Response({"email": email, "verified": True})


class EmailResendApi(PublicApi):
    """Mail a new verification key; the answer never tells whether the address has an account."""

    throttle_classes = [AccountAddressThrottle]
    throttle_scope = "email-resend"

    @extend_schema(request=EmailInputSerializer, responses=ACCEPTED)
    def post(self, request: Request) -> Response:
        """Resend the verification mail."""
        serializer = EmailInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email_verification_resend(request=request._request, **serializer.validated_data)
        return _accepted(MAIL_SENT)


class PasswordResetApi(PublicApi):
    """Mail a reset key; the answer never tells whether the address has an account."""

    throttle_classes = [AccountAddressThrottle]
    throttle_scope = "password-reset"

    @extend_schema(request=EmailInputSerializer, responses=ACCEPTED)
    def post(self, request: Request) -> Response:
        """Ask for a password reset."""
        serializer = EmailInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset_request(request=request._request, **serializer.validated_data)
        return _accepted(MAIL_SENT)


class PasswordResetConfirmApi(PublicApi):
    """Set a new password with a reset key; every login of the account ends."""

    throttle_classes = [AccountAddressThrottle]
    throttle_scope = "password-reset-confirm"

    @extend_schema(
        request=PasswordResetConfirmInputSerializer, responses={204: None, **PUBLIC_ERRORS}
    )
    def post(self, request: Request) -> Response:
        """Reset the password."""
        serializer = PasswordResetConfirmInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset_confirm(request=request._request, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignInChangeUndoApi(PublicApi):
    """Undo a change to how the account signs in ("this wasn't me"), with the key mailed
    about it; every login of the account ends and a password reset is mailed.
    """

    throttle_classes = [AccountAddressThrottle]
    throttle_scope = "undo"

    @extend_schema(request=KeyInputSerializer, responses={200: UndoneSerializer, **PUBLIC_ERRORS})
    def post(self, request: Request) -> Response:
        """Undo the change."""
        serializer = KeyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        change = signin_change_undo(request=request._request, **serializer.validated_data)
        return Response(UndoneSerializer({"undone": change}).data)


class AccountDetailApi(Api):
    """My account; deleting it needs a fresh login."""

    permission_classes = [FreshLogin]

    @extend_schema(responses={200: AccountSerializer, 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        """My account page."""
        return Response(account_get(principal=self.user))

    @extend_schema(request=None, responses={204: None, **LOGIN_ERRORS})
    def delete(self, request: Request) -> Response:
        """Delete my account: every login ends, then the user and its data go."""
        account_delete(user_id=self.user.pk, request=request._request)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        browser_logins_end(request=request._request, response=response)
        return response


class EmailChangeApi(Api):
    """Move my account to another address, once a key mailed there is verified."""

    permission_classes = [FreshLogin]

    @extend_schema(
        request=EmailInputSerializer,
        responses={202: AcceptedSerializer, 429: ErrorSerializer, **LOGIN_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Ask to change my address."""
        serializer = EmailInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email_change_request(
            user_id=self.user.pk, request=request._request, **serializer.validated_data
        )
        return _accepted(MAIL_SENT)


class LoginReauthenticateApi(Api):
    """Prove who I am again: this login counts as fresh for REAUTH_WINDOW."""

    @extend_schema(
        request=ReauthenticateInputSerializer,
        responses={200: ReauthenticatedSerializer, 429: ErrorSerializer, **LOGIN_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Re-authenticate this login."""
        serializer = ReauthenticateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        until = login_reauthenticate(
            user_id=self.user.pk,
            family_id=self.credential.family_id,
            request=request._request,
            **serializer.validated_data,
        )
        return Response(ReauthenticatedSerializer({"reauthenticated_until": until}).data)
