"""The providers feature's errors, each an APIException with its status and code."""

from rest_framework import exceptions, status


class ProviderNotConfigured(exceptions.APIException):
    """A provider id that is not among the configured ones."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "This provider is not configured here."
    default_code = "provider_not_configured"


class ProviderTokenNotValid(exceptions.APIException):
    """An ID token with a bad signature, issuer, audience or expiry, or a nonce that is
    unknown, used or does not match.
    """

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The provider's sign-in was not accepted: sign in with it again."
    default_code = "provider_token_not_valid"


class ProviderEmailNotVerified(exceptions.APIException):
    """An unknown identity whose provider does not vouch for its address."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The provider has not verified this email address."
    default_code = "provider_email_not_verified"


class ProviderUnavailable(exceptions.APIException):
    """The provider's discovery, keys or token endpoint could not be reached or made no sense."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The provider cannot be reached: try again later, or sign in another way."
    default_code = "provider_unavailable"


class AccountExists(exceptions.APIException):
    """An unknown identity whose verified address belongs to an account: nothing was done."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "An account already uses this email address: sign in to it, then link this provider "
        "from your account page."
    )
    default_code = "account_exists"


class IdentityInUse(exceptions.APIException):
    """An identity that is linked to another account."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This sign-in is already linked to another account."
    default_code = "identity_in_use"


class LastSignInMethod(exceptions.APIException):
    """Unlinking would leave the account without a password, a passkey or another provider."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = (
        "This is the last way to sign in to your account: set a password or add a passkey first."
    )
    default_code = "last_sign_in_method"


class ProviderStateNotValid(exceptions.APIException):
    """A redirect's callback without its browser's state cookie, or with another state."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "This sign-in did not start in this browser, or it expired: start again."
    default_code = "provider_state_not_valid"


class ProviderDenied(exceptions.APIException):
    """The provider answered the redirect with an error: the user said no, most often."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The provider did not sign you in."
    default_code = "provider_denied"
