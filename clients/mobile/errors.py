"""Every failure of the client, as an exception carrying the server's `code`."""

from typing import Any


class DualauthError(Exception):
    """Base of every client error: a message for people and a `code` for programs."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status


class InvalidCredentialsError(DualauthError):
    """Wrong username or password."""

    code = "invalid_credentials"


class ThrottledError(DualauthError):
    """Too many failed logins, account requests or mails to one address: wait `retry_after` s."""

    code = "throttled"

    def __init__(self, message: str, *, retry_after: int, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class LoginEndedError(DualauthError):
    """This login can no longer be used; the stored tokens were removed: log in again."""

    code = "token_revoked"


class LoginRevokedError(LoginEndedError):
    """The login was revoked (logout, logout everywhere, device revoked, or token reuse)."""


class LoginExpiredError(LoginEndedError):
    """The refresh token or the whole login expired."""

    code = "token_not_valid"


class NotLoggedInError(DualauthError):
    """No tokens are stored."""

    code = "not_logged_in"


class ServerUnavailableError(DualauthError):
    """The server could not be reached, timed out, or said it is unavailable."""

    code = "server_unavailable"


class InvalidInputError(DualauthError):
    """The server refused the input: `errors` maps each field to its messages."""

    code = "validation_error"

    def __init__(self, message: str, *, errors: dict[str, Any], status: int | None = 400) -> None:
        super().__init__(message, status=status)
        self.errors = errors


class NotFoundError(DualauthError):
    """No such resource (for example an unknown or already revoked device)."""

    code = "not_found"


class KeyNotValidError(DualauthError):
    """The key or link from an account mail is unknown, used, expired or mistyped: ask anew."""

    code = "key_not_valid"


class EmailNotVerifiedError(DualauthError):
    """The right password of an account whose address is not verified yet: verify it first."""

    code = "email_not_verified"


class ReauthenticationRequiredError(DualauthError):
    """A sensitive action from a login that is not fresh: reauthenticate, then do it again."""

    code = "reauthentication_required"


class DpopProofError(DualauthError):
    """The server refused this device's proof of its key (RFC 9449): the tokens are bound to
    another key (a copied store), or the device's clock is far off.
    """

    code = "invalid_dpop_proof"


class InsufficientAuthenticationError(ReauthenticationRequiredError):
    """The endpoint asks for a more recent, or a stronger, login (RFC 9470): `max_age`
    seconds since the last authentication, or one of `acr_values`; reauthenticate, or log
    in again with the method asked for, then do it again.
    """

    code = "insufficient_user_authentication"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        max_age: int | None = None,
        acr_values: list[str] | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.max_age = max_age
        self.acr_values = acr_values or []


class MfaRequiredError(DualauthError):
    """The right password of an account with a second factor: no login yet.

    Finish it with `DualauthClient.mfa_authenticate(error.mfa_token, code)` within
    `expires_in` seconds. `methods` names what the server takes (`totp`, `recovery_code`,
    `webauthn`); `webauthn` holds the passkey request options when the account has passkeys.
    """

    code = "mfa_required"

    def __init__(
        self,
        message: str,
        *,
        mfa_token: str,
        methods: list[str],
        expires_in: int,
        webauthn: dict[str, Any] | None = None,
        status: int | None = 202,
    ) -> None:
        super().__init__(message, status=status)
        self.mfa_token = mfa_token
        self.methods = methods
        self.expires_in = expires_in
        self.webauthn = webauthn

    def __repr__(self) -> str:
        # Without the token: a traceback or a log line never shows what completes a login.
        return f"MfaRequiredError(methods={self.methods!r}, expires_in={self.expires_in!r})"


class MfaCodeNotValidError(DualauthError):
    """A second-factor code that is wrong, used, or of a factor the account does not have."""

    code = "mfa_code_not_valid"


class MfaTokenNotValidError(DualauthError):
    """The login waiting for its second factor is over (expired, used, too many wrong codes).

    Log in again with the password.
    """

    code = "mfa_token_not_valid"


class StoreError(DualauthError):
    """The token store file is unsafe (readable by others) or unreadable."""

    code = "store_error"
