"""The contract's errors, each an APIException with its status and code."""

from typing import Any

from django.http import JsonResponse
from rest_framework import exceptions, status


class InvalidCredentials(exceptions.AuthenticationFailed):
    """Unknown user, wrong password, inactive user or unusable password: one answer."""

    default_detail = "Invalid username or password."
    default_code = "invalid_credentials"


class TokenNotValid(exceptions.AuthenticationFailed):
    """A token that is malformed, forged, expired or of the wrong type."""

    default_detail = "Token is invalid or expired."
    default_code = "token_not_valid"


class TokenRevoked(exceptions.AuthenticationFailed):
    """A well-formed token whose login was revoked."""

    default_detail = "Token has been revoked."
    default_code = "token_revoked"


class TokenReused(exceptions.AuthenticationFailed):
    """A rotated refresh token presented again: its whole family is now revoked."""

    default_detail = "Refresh token was already used; this login has been revoked."
    default_code = "token_reused"


class SessionNotValid(exceptions.AuthenticationFailed):
    """A session cookie that names no live session."""

    default_detail = "Session expired or revoked."
    default_code = "not_authenticated"


class CsrfFailed(exceptions.PermissionDenied):
    """A cookie-authenticated unsafe request without a matching CSRF token or origin."""

    default_detail = "CSRF check failed."
    default_code = "csrf_failed"


class MetricsForbidden(exceptions.PermissionDenied):
    """A `/metrics` request from outside METRICS_ALLOWED_NETWORKS without METRICS_TOKEN."""

    default_detail = "Metrics are served to allowed networks or with the metrics token only."
    default_code = "metrics_forbidden"


class KeyNotValid(exceptions.APIException):
    """An account key that is unknown, tampered with, used or expired."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "This link is not valid: it was used, it expired, or it is not ours."
    default_code = "key_not_valid"


class EmailNotVerified(exceptions.PermissionDenied):
    """The right password of an account whose address is not verified yet."""

    default_detail = "Verify your email address first: follow the link we mailed you."
    default_code = "email_not_verified"


class ReauthenticationRequired(exceptions.PermissionDenied):
    """A sensitive action from a login that is not fresh: re-authenticate first."""

    default_detail = "Confirm your password again to do this."
    default_code = "reauthentication_required"


class Challenged(exceptions.APIException):
    """An error whose answer carries headers of its own: the `WWW-Authenticate` challenge it
    names (RFC 9449, RFC 9470) and any other, which the exception handler sets.
    """

    def __init__(
        self,
        detail: str | None = None,
        *,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        if status_code is not None:
            self.status_code = status_code
        self.response_headers = dict(headers or {})


class DpopProofNotValid(Challenged):
    """A DPoP proof that is missing, malformed, of another key, another request, or replayed."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The DPoP proof is not valid."
    default_code = "invalid_dpop_proof"


class DpopNonceRequired(Challenged):
    """A DPoP proof without the server's current nonce: sign another with `DPoP-Nonce`."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Sign the DPoP proof again with the nonce this answer gives (`DPoP-Nonce`)."
    default_code = "use_dpop_nonce"


class DpopBoundToken(Challenged):
    """A token bound to a key sent without a proof of it: `Authorization: DPoP` only."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = (
        "This token is bound to a key: send it as `Authorization: DPoP <token>` with a proof."
    )
    default_code = "token_not_valid"


class InsufficientUserAuthentication(Challenged):
    """A login whose last proof of its user is too old or of too weak a method (RFC 9470)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "Authenticate again to do this."
    default_code = "insufficient_user_authentication"


class MfaCodeNotValid(exceptions.APIException):
    """A second-factor code that is wrong, used, or of a factor the account does not have."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "This code is not valid."
    default_code = "mfa_code_not_valid"


class MfaTokenNotValid(exceptions.APIException):
    """An `mfa_token` that is unknown, used, expired, or out of attempts: log in again."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "This sign-in has expired: enter your password again."
    default_code = "mfa_token_not_valid"


class PasskeyNotValid(exceptions.APIException):
    """A passkey answer that does not verify, or whose challenge is unknown, used or expired."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "This passkey was not accepted."
    default_code = "passkey_not_valid"


class MfaNotConfigured(exceptions.APIException):
    """No MFA_ENCRYPTION_KEY: an authenticator app's secret could not be kept safely."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Authenticator apps are not available on this server."
    default_code = "mfa_not_configured"


class RequestTooLarge(exceptions.APIException):
    """A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


class ServiceUnavailable(exceptions.APIException):
    """The database could not answer."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Service temporarily unavailable, try again."
    default_code = "service_unavailable"


class ServerError(exceptions.APIException):
    """An unexpected failure, reported without its details."""

    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = "Server error."
    default_code = "server_error"


def error_response(exc: exceptions.APIException) -> JsonResponse:
    """`exc` as a JSON response, for the few answers given outside DRF's views."""
    return JsonResponse(error_body(exc), status=exc.status_code)


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    """Render `exc` in the contract's shape."""
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return {"detail": "Invalid input.", "code": "validation_error", "errors": errors}
    if isinstance(exc, exceptions.ParseError):
        return {
            "detail": "Malformed request body.",
            "code": "validation_error",
            "errors": {"body": [str(exc.detail)]},
        }
    return {"detail": str(exc.detail), "code": str(exc.get_codes())}
