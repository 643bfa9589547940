"""DualauthClient: JWT header mode, refreshed before expiry, on a 401, and after a lost reply.

It also drives the account flows: signup, verification, password reset, email change,
re-authentication, deletion and undoing a change that was not the owner's; and the second
factor.

A login of an account with a second factor takes two calls. `login` raises
MfaRequiredError, which carries no credential, only what the second step needs: its
`mfa_token`, the `methods` the server takes and `expires_in` seconds. The second step,
`mfa_authenticate(mfa_token, code)` with a code of the authenticator app or a recovery
code, stores the tokens as `login` would have::

    try:
        client.login(username, password)
    except MfaRequiredError as pending:
        client.mfa_authenticate(pending.mfa_token, input("Code: "))

An exception rather than a return value: code written before second factors existed,
which takes a `login` that returns as logged in, fails loudly instead of going on without
tokens. A wrong code is an MfaCodeNotValidError and the `mfa_token` stays good for another
try; once it expired, was used, or took too many wrong codes, MfaTokenNotValidError: log in
again. `totp_status`, `totp_enable`, `totp_disable`, `recovery_codes_status` and
`recovery_codes_regenerate` manage the factors.
"""

import email.utils
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypedDict, cast
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from clients.mobile.dpop import DpopKey
from clients.mobile.errors import (
    DpopProofError,
    DualauthError,
    EmailNotVerifiedError,
    InsufficientAuthenticationError,
    InvalidCredentialsError,
    InvalidInputError,
    KeyNotValidError,
    LoginEndedError,
    LoginExpiredError,
    LoginRevokedError,
    MfaCodeNotValidError,
    MfaRequiredError,
    MfaTokenNotValidError,
    NotFoundError,
    NotLoggedInError,
    ReauthenticationRequiredError,
    ServerUnavailableError,
    ThrottledError,
)
from clients.mobile.store import FileTokenStore, Tokens, TokenStore

DEFAULT_SERVER = "http://127.0.0.1:8000"
USER_AGENT = "dualauth-mobile/0.1"
LOGIN_PATH = "/api/jwt/token/"
REFRESH_PATH = "/api/jwt/token/refresh/"
ACCOUNT_PATH = "/api/account/"
MFA_PATH = f"{ACCOUNT_PATH}mfa/"
MFA_AUTHENTICATE_PATH = f"{MFA_PATH}authenticate/"
PROVIDER_LOGIN_PATH = "/api/jwt/token/provider/"
PROVIDERS_PATH = f"{ACCOUNT_PATH}providers/"
PROVIDER_NONCE_PATH = f"{PROVIDERS_PATH}nonce/"
REFRESH_ATTEMPTS = 3
# Must stay under the server's refresh grace window (5 s by default): a repeat of a refresh
# token later than that is taken for theft and revokes the login.
DEFAULT_REFRESH_RETRY_WINDOW = 4.0
EXPIRED_CODE = "token_not_valid"
REVOKED_CODES = ("token_revoked", "token_reused")
NONCE_CODE = "use_dpop_nonce"
STEP_UP_CODE = "insufficient_user_authentication"
# The requests that get a proof while the tokens are not bound yet: those that bind them.
DPOP_TOKEN_PATHS = frozenset(
    {LOGIN_PATH, REFRESH_PATH, MFA_AUTHENTICATE_PATH, f"{LOGIN_PATH}passkey/", PROVIDER_LOGIN_PATH}
)
UNAVAILABLE_STATUSES = (502, 503, 504)
# The errors that one code names, whatever the status.
CODE_ERRORS: dict[str, type[DualauthError]] = {
    "invalid_credentials": InvalidCredentialsError,
    "key_not_valid": KeyNotValidError,
    "email_not_verified": EmailNotVerifiedError,
    "reauthentication_required": ReauthenticationRequiredError,
    "mfa_code_not_valid": MfaCodeNotValidError,
    "mfa_token_not_valid": MfaTokenNotValidError,
    "invalid_dpop_proof": DpopProofError,
}


class Profile(TypedDict):
    """The profile resource."""

    id: int
    username: str
    email: str
    display_name: str
    bio: str
    date_joined: str


class Device(TypedDict):
    """One live token login of mine."""

    id: str
    created_at: str
    last_used_at: str
    user_agent: str
    ip: str | None
    current: bool


class Accepted(TypedDict):
    """A request taken: what happens next happens by mail.

    `code` says what (`verification_sent`, `signup_complete`, `mail_sent`); `detail`
    says it to people.
    """

    detail: str
    code: str


class EmailVerified(TypedDict):
    """The address a key verified: a new account's, or the one an account moved to."""

    email: str
    verified: bool


class Undone(TypedDict):
    """The change to how the account signs in that an undo key reversed, as the server names
    it (`totp_enabled`, `passkey_added`, `email_changed`, ...).
    """

    undone: str


class Mfa(TypedDict):
    """The second factors of an account."""

    totp: bool
    passkeys: int
    recovery_codes_left: int


class Account(TypedDict):
    """My account page."""

    username: str
    email: str
    email_verified: bool
    mfa: Mfa


class Reauthenticated(TypedDict):
    """Until when this login counts as fresh (ISO 8601)."""

    reauthenticated_until: str


class TotpStatus(TypedDict):
    """My authenticator app: on or not; while it is not, the secret to give an app.

    `secret`, `otpauth_url` (what a QR code holds) and `qr_svg` are None once it is on.
    """

    enabled: bool
    secret: str | None
    otpauth_url: str | None
    qr_svg: str | None


def key_from(text: str) -> str:
    """The key of an account mail, from the key itself or from the link holding it.

    Mails carry it in the link's fragment (`/#action=...&key=...`); a query string
    (`?key=...`, or `/#/verify?key=...` as some apps write it) is read too. Raises
    KeyNotValidError for a link without a key.
    """
    text = text.strip()
    # A key is base64url, digits and dots: never `?`, `=` or `#`, which a link has.
    if not any(mark in text for mark in "?=#"):
        return text
    parts = urlsplit(text if "?" in text or "#" in text else f"#{text}")
    for query in (parts.fragment, parts.fragment.partition("?")[2], parts.query):
        keys = parse_qs(query).get("key")
        if keys:
            return keys[0]
    raise KeyNotValidError("this link holds no key: paste the whole link from the mail")


class DualauthClient:
    """One login to a dualauth server, shared safely by any number of threads.

    Tokens live in `store` (by default the 0600 file ~/.config/dualauth/tokens.json).
    The access token is refreshed a safety margin before it expires, and once more when
    the server still says 401 `token_not_valid`; however many threads need a refresh,
    one request makes it. A refresh whose reply is lost is retried with the same
    refresh token within `refresh_retry_window` seconds, which the server answers with
    the same new refresh token. Every login sends the device token of the one before
    and keeps the new one, so that others' failed logins for the username cannot lock
    this device out; logging out keeps it. `clock` gives the Unix time that expiry is
    judged by.

    The account flows that need no login (signup, verification, password reset) send
    no credential at all, whatever is stored.
    """

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        *,
        store: TokenStore | None = None,
        timeout: float = 10.0,
        refresh_retry_window: float = DEFAULT_REFRESH_RETRY_WINDOW,
        transport: httpx.BaseTransport | None = None,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
        clock: Callable[[], float] = time.time,
        dpop: bool = True,
    ) -> None:
        self.server = server.rstrip("/")
        self._dpop = dpop
        # The server's latest DPoP nonce (RFC 9449 8), signed into every proof once known.
        self._nonce: str | None = None
        self._clock = clock
        self.store: TokenStore = store if store is not None else FileTokenStore()
        self._timeout = timeout
        self._refresh_retry_window = refresh_retry_window
        self._refresh_lock = threading.Lock()
        self._http = httpx.Client(
            base_url=self.server,
            timeout=timeout,
            transport=transport,
            event_hooks=event_hooks,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def __enter__(self) -> "DualauthClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections; the stored tokens stay."""
        self._http.close()

    def login(self, username: str, password: str) -> None:
        """Log in with this device's device token, if any; store the new tokens and device token.

        An account with a second factor raises MfaRequiredError and stores nothing: finish
        with `mfa_authenticate`.
        """
        credentials = {"username": username, "password": password}
        device_token = self.store.device_token_load()
        if device_token:
            credentials["device_token"] = device_token
        response = self._send("POST", LOGIN_PATH, json=credentials)
        if response.status_code == httpx.codes.ACCEPTED and _code(response) == "mfa_required":
            raise _mfa_required(response)
        self._login_store(response)

    def providers(self) -> list[dict[str, Any]]:
        """The external providers the server offers: `id`, `name`, `flows`."""
        response = self._send("GET", PROVIDERS_PATH)
        if not response.is_success:
            raise _error(response, now=self._clock())
        providers: list[dict[str, Any]] = response.json()
        return providers

    def provider_nonce(self) -> str:
        """A single-use nonce of the server, to give the provider's SDK before it signs in."""
        response = self._send("POST", PROVIDER_NONCE_PATH)
        if not response.is_success:
            raise _error(response, now=self._clock())
        return str(_body(response)["nonce"])

    def login_provider(self, provider: str, id_token: str, nonce: str) -> None:
        """Log in with an ID token of `provider` that carries the server's `nonce` (or its
        SHA-256 in hex, as Apple's SDKs send it); store the tokens as `login` does.

        A user with a second factor raises MfaRequiredError: finish with `mfa_authenticate`.
        """
        body = {"provider": provider, "id_token": id_token.strip(), "nonce": nonce}
        device_token = self.store.device_token_load()
        if device_token:
            body["device_token"] = device_token
        response = self._send("POST", PROVIDER_LOGIN_PATH, json=body)
        if response.status_code == httpx.codes.ACCEPTED and _code(response) == "mfa_required":
            raise _mfa_required(response)
        self._login_store(response)

    def mfa_authenticate(self, mfa_token: str, code: str) -> None:
        """Finish a login that raised MfaRequiredError with an app code or a recovery code.

        Stores the tokens and device token as `login` does. A wrong code is an
        MfaCodeNotValidError (try again with the same `mfa_token`); an expired, used or
        exhausted `mfa_token` is an MfaTokenNotValidError (log in again).
        """
        body = {"mfa_token": mfa_token, "code": code.strip()}
        self._login_store(self._send("POST", MFA_AUTHENTICATE_PATH, json=body))

    def _login_store(self, response: httpx.Response) -> None:
        """Store the tokens and device token of a login's answer; raise if it is an error."""
        if not response.is_success:
            raise _error(response, now=self._clock())
        new_device_token = _body(response).get("device_token")
        with self._refresh_lock:
            self.store.save(_tokens_from(response, now=self._clock()))
            # A server older than device tokens sends none; the kept one does no harm.
            if isinstance(new_device_token, str) and new_device_token:
                self.store.device_token_save(new_device_token)

    def profile(self) -> Profile:
        """My profile."""
        return cast(Profile, self._authorized("GET", "/api/jwt/profile/").json())

    def profile_update(self, *, display_name: str | None = None, bio: str | None = None) -> Profile:
        """Change my display name and/or bio; the updated profile."""
        changes = {
            key: value
            for key, value in {"display_name": display_name, "bio": bio}.items()
            if value is not None
        }
        return cast(Profile, self._authorized("PATCH", "/api/jwt/profile/", json=changes).json())

    def devices(self) -> list[Device]:
        """My live token logins, this one marked `current`."""
        return cast(list[Device], self._authorized("GET", "/api/jwt/devices/").json())

    def device_revoke(self, device_id: str) -> None:
        """End one of my token logins at once."""
        self._authorized("DELETE", f"/api/jwt/devices/{quote(device_id, safe='')}/")

    def logout(self) -> None:
        """End this login on the server, then forget its tokens.

        When the server cannot be reached the tokens stay, so that logging out can be retried.
        """
        tokens = self.store.load()
        if tokens is None:
            return
        response = self._send("POST", "/api/jwt/logout/", json={"refresh": tokens.refresh})
        # A 401 means this login had ended already: nothing is left to revoke.
        if not response.is_success and response.status_code != httpx.codes.UNAUTHORIZED:
            raise _error(response, now=self._clock())
        self._forget(tokens)

    def logout_all(self) -> None:
        """End every login of mine, sessions included, then forget the tokens."""
        self._authorized("POST", "/api/logout-all/")
        with self._refresh_lock:
            self.store.clear()

    def signup(self, *, username: str, email: str, password: str) -> Accepted:
        """Sign up; a key to verify the address is mailed to it. No login yet.

        The answer is the same whether or not the address already has an account (its
        owner gets a mail instead). A taken username or a weak password is an
        InvalidInputError naming the field.
        """
        body = {"username": username, "email": email, "password": password}
        return cast(Accepted, self._public(f"{ACCOUNT_PATH}signup/", body).json())

    def email_verify(self, *, key: str, password: str | None = None) -> EmailVerified:
        """Verify an address with the key mailed to it, or with the whole link from the mail.

        Verifies a new account's address, which needs the password it signed up with
        (else an InvalidInputError naming `password`), or moves an account to the address
        it asked for, which needs none. KeyNotValidError for a key that is unknown, used,
        expired or mistyped.
        """
        body = {"key": key_from(key)}
        if password is not None:
            body["password"] = password
        return cast(EmailVerified, self._public(f"{ACCOUNT_PATH}email/verify/", body).json())

    def email_resend(self, *, email: str) -> Accepted:
        """Mail a new verification key to `email`; the same answer whatever the address."""
        return cast(Accepted, self._public(f"{ACCOUNT_PATH}email/resend/", {"email": email}).json())

    def password_reset(self, *, email: str) -> Accepted:
        """Mail a password reset key to `email`; the same answer whatever the address."""
        body = {"email": email}
        return cast(Accepted, self._public(f"{ACCOUNT_PATH}password/reset/", body).json())

    def password_reset_confirm(self, *, key: str, new_password: str) -> None:
        """Set a new password with the reset key or the whole link from the mail.

        Every login of the account ends, this client's too if it is one: its next call
        gets LoginRevokedError. KeyNotValidError for a dead key; a refused password is an
        InvalidInputError naming `new_password`, and the key still works.
        """
        body = {"key": key_from(key), "new_password": new_password}
        self._public(f"{ACCOUNT_PATH}password/reset/confirm/", body)

    def signin_change_undo(self, *, key: str) -> Undone:
        """Undo a change to how an account signs in, with the key (or the whole link) of the
        mail that told of it: "this wasn't me".

        The change is reversed, every login of the account ends (this client's too if it is
        one: its next call gets LoginRevokedError), its password is replaced and a reset
        key is mailed to its address. KeyNotValidError for a key unknown, used or expired.
        """
        body = {"key": key_from(key)}
        return cast(Undone, self._public(f"{ACCOUNT_PATH}undo/", body).json())

    def account(self) -> Account:
        """My account: name, address, whether it is verified, my second factors."""
        return cast(Account, self._authorized("GET", ACCOUNT_PATH).json())

    def email_change(self, *, email: str) -> Accepted:
        """Ask to move my account to `email`: a key is mailed there, and `email_verify` moves it.

        My address stays until then. Needs a fresh login, else
        ReauthenticationRequiredError: `reauthenticate`, then ask again.
        """
        body = {"email": email}
        return cast(Accepted, self._authorized("POST", f"{ACCOUNT_PATH}email/", json=body).json())

    def reauthenticate(
        self, *, password: str | None = None, code: str | None = None
    ) -> Reauthenticated:
        """Prove who I am again, by password or second-factor code: this login is fresh again.

        A wrong password is an InvalidInputError naming `password` (and counts as a
        failed login, against this device's own limit when it has a device token); a wrong
        code is an MfaCodeNotValidError.
        """
        if (password is None) == (code is None):
            raise TypeError("reauthenticate takes either a password or a code")
        body = {"password": password} if code is None else {"code": code}
        device_token = self.store.device_token_load()
        if device_token:
            body["device_token"] = device_token
        path = f"{ACCOUNT_PATH}reauthenticate/"
        return cast(Reauthenticated, self._authorized("POST", path, json=body).json())

    def account_delete(self) -> None:
        """Delete my account for good: every login of mine ends; forget the tokens.

        Needs a fresh login, else ReauthenticationRequiredError and nothing changes.
        The device token goes too: it vouches only for logins to the deleted account's
        username, which someone else may take next.
        """
        self._authorized("DELETE", ACCOUNT_PATH)
        with self._refresh_lock:
            self.store.clear()
            self.store.device_token_clear()

    def totp_status(self) -> TotpStatus:
        """My authenticator app; while it is off, the secret to set one up with.

        The first call makes a new secret, which stays until the app is turned on.
        """
        body = _body(self._authorized("GET", f"{MFA_PATH}totp/"))
        return TotpStatus(
            enabled=bool(body.get("enabled")),
            secret=body.get("secret") or None,
            otpauth_url=body.get("otpauth_url") or None,
            qr_svg=body.get("qr_svg") or None,
        )

    def totp_enable(self, code: str) -> list[str]:
        """Turn the authenticator app on with a code it shows; the new recovery codes.

        They are shown this once: keep them. Needs a fresh login, else
        ReauthenticationRequiredError; a wrong code is an MfaCodeNotValidError.
        """
        body = {"code": code.strip()}
        response = self._authorized("POST", f"{MFA_PATH}totp/", json=body)
        return cast(list[str], response.json()["recovery_codes"])

    def totp_disable(self) -> None:
        """Turn the authenticator app off. Needs a fresh login, else ReauthenticationRequiredError.

        With no second factor left, the recovery codes go too.
        """
        self._authorized("DELETE", f"{MFA_PATH}totp/")

    def recovery_codes_status(self) -> int:
        """How many of my recovery codes are left unused."""
        return int(self._authorized("GET", f"{MFA_PATH}recovery-codes/").json()["remaining"])

    def recovery_codes_regenerate(self) -> list[str]:
        """New recovery codes, shown this once; the old ones stop working.

        Needs a fresh login, else ReauthenticationRequiredError, and a second factor.
        """
        response = self._authorized("POST", f"{MFA_PATH}recovery-codes/")
        return cast(list[str], response.json()["recovery_codes"])

    def _public(self, path: str, body: dict[str, str]) -> httpx.Response:
        """POST `body` to an endpoint that needs no login, with no credential; raise on error."""
        response = self._send("POST", path, json=body)
        if not response.is_success:
            raise _error(response, now=self._clock())
        return response

    def _stored(self) -> Tokens:
        tokens = self.store.load()
        if tokens is None:
            raise NotLoggedInError("not logged in: log in first")
        return tokens

    def _authorized(self, method: str, path: str, *, json: Any = None) -> httpx.Response:
        """Send with a fresh access token; refresh and retry once on 401 `token_not_valid`."""
        tokens = self._stored()
        if tokens.needs_refresh(self._clock()):
            tokens = self._refresh(stale=tokens)
        response = self._send(method, path, access=tokens.access, bound=tokens.bound, json=json)
        if response.status_code == httpx.codes.UNAUTHORIZED and _code(response) == EXPIRED_CODE:
            tokens = self._refresh(stale=tokens)
            response = self._send(method, path, access=tokens.access, bound=tokens.bound, json=json)
        if response.is_success:
            return response
        error = _error(response, now=self._clock())
        if isinstance(error, LoginEndedError):
            self._forget(tokens)
        raise error

    def _refresh(self, *, stale: Tokens) -> Tokens:
        """New tokens in place of `stale`; one refresh at a time, none if another did it."""
        with self._refresh_lock:
            current = self._stored()
            if current.access != stale.access:
                return current
            response = self._refresh_send(current.refresh)
            if response.is_success:
                tokens = _tokens_from(response, now=self._clock())
                self.store.save(tokens)
                return tokens
            error = _error(response, now=self._clock())
            if response.status_code == httpx.codes.UNAUTHORIZED:
                self.store.clear()
                if not isinstance(error, LoginEndedError):
                    error = LoginExpiredError(
                        f"{error.message} Log in again.", code=error.code, status=error.status
                    )
            raise error

    def _refresh_send(self, refresh: str) -> httpx.Response:
        """POST the refresh token, again with the same token while the reply may be lost."""
        deadline = time.monotonic() + self._refresh_retry_window
        attempt = 1
        while True:
            # Short attempts, so that a retry still lands inside the server's grace window.
            remaining = deadline - time.monotonic()
            timeout = min(self._timeout, self._refresh_retry_window / 2, max(remaining, 0.1))
            try:
                return self._send("POST", REFRESH_PATH, json={"refresh": refresh}, timeout=timeout)
            except ServerUnavailableError:
                pause = 0.2 * attempt
                if attempt == REFRESH_ATTEMPTS or time.monotonic() + pause >= deadline:
                    raise
                time.sleep(pause)
                attempt += 1

    def _send(
        self,
        method: str,
        path: str,
        *,
        access: str | None = None,
        bound: bool = False,
        json: Any = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request; with a DPoP proof when the tokens are bound, or for a token
        request (a login, a refresh) while DPoP is on. A server asking for its nonce
        (`use_dpop_nonce`) gets the request once more, with a proof signed with it.
        """
        key = self._dpop_key() if bound or (access is None and self._proves(path)) else None
        for _ in range(2):
            headers = (
                {"Authorization": f"{'DPoP' if bound else 'Bearer'} {access}"} if access else {}
            )
            if key is not None:
                headers["DPoP"] = key.proof(
                    method=method, url=self.server + path, access_token=access, nonce=self._nonce
                )
            try:
                response = self._http.request(
                    method,
                    path,
                    json=json,
                    headers=headers,
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as e:
                raise self._unavailable(e) from e
            nonce = response.headers.get("DPoP-Nonce")
            if nonce:
                self._nonce = nonce
            if key is None or not nonce or _code(response) != NONCE_CODE:
                return response
        return response

    def _proves(self, path: str) -> bool:
        """Whether a request without tokens to `path` carries a proof: the token requests."""
        return self._dpop and path in DPOP_TOKEN_PATHS

    def _dpop_key(self) -> DpopKey:
        """This device's key: made at the first login, then kept beside the tokens."""
        key = self.store.dpop_key_load()
        if key is None:
            key = DpopKey.generate()
            self.store.dpop_key_save(key)
        return key

    def _forget(self, tokens: Tokens) -> None:
        """Clear the store, unless it already holds another login than `tokens`."""
        with self._refresh_lock:
            current = self.store.load()
            if current is not None and current.refresh == tokens.refresh:
                self.store.clear()

    def _unavailable(self, error: httpx.TransportError) -> ServerUnavailableError:
        if isinstance(error, httpx.TimeoutException):
            reason = "no answer in time"
        elif isinstance(error, httpx.ConnectError):
            reason = f"connection failed ({error})"
        else:
            reason = f"the connection broke ({error})"
        return ServerUnavailableError(f"cannot reach the server at {self.server}: {reason}")


def _tokens_from(response: httpx.Response, *, now: float) -> Tokens:
    body = response.json()
    return Tokens.issued(
        access=body["access"],
        refresh=body["refresh"],
        expires_in=float(body["expires_in"]),
        now=now,
        token_type=str(body.get("token_type") or "Bearer"),
    )


def _mfa_required(response: httpx.Response) -> MfaRequiredError:
    """The error that a 202 `mfa_required` answer to a password stands for."""
    body = _body(response)
    methods = body.get("methods")
    webauthn = body.get("webauthn")
    return MfaRequiredError(
        str(body.get("detail") or "a second factor is needed"),
        mfa_token=str(body["mfa_token"]),
        methods=[str(method) for method in methods] if isinstance(methods, list) else [],
        expires_in=int(body.get("expires_in") or 0),
        webauthn=webauthn if isinstance(webauthn, dict) else None,
    )


def _step_up(response: httpx.Response, detail: str) -> InsufficientAuthenticationError:
    """The error of a step-up challenge (RFC 9470), with what it asks for."""
    challenge = response.headers.get("WWW-Authenticate", "")
    max_age = re.search(r"max_age=(\d+)", challenge)
    acr_values = re.search(r'acr_values="([^"]*)"', challenge)
    return InsufficientAuthenticationError(
        detail,
        status=response.status_code,
        max_age=int(max_age.group(1)) if max_age else None,
        acr_values=acr_values.group(1).split() if acr_values else None,
    )


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _code(response: httpx.Response) -> str:
    return str(_body(response).get("code", ""))


def _retry_after(value: str | None, *, now: float) -> int:
    """Seconds from a `Retry-After` header: a number of seconds or an HTTP date."""
    if not value:
        return 0
    if value.strip().isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0
    return max(0, round(when.timestamp() - now))


def _error(response: httpx.Response, *, now: float) -> DualauthError:
    """The exception that an error response stands for."""
    body = _body(response)
    status = response.status_code
    code = str(body.get("code") or f"http_{status}")
    detail = str(body.get("detail") or response.reason_phrase or "error")
    if status == httpx.codes.TOO_MANY_REQUESTS:
        return ThrottledError(
            detail, retry_after=_retry_after(response.headers.get("Retry-After"), now=now)
        )
    if code == STEP_UP_CODE:
        return _step_up(response, detail)
    if code in CODE_ERRORS:
        return CODE_ERRORS[code](detail, status=status)
    if code in REVOKED_CODES:
        return LoginRevokedError(detail, code=code, status=status)
    if status == httpx.codes.BAD_REQUEST:
        errors = body.get("errors")
        return InvalidInputError(detail, errors=errors if isinstance(errors, dict) else {})
    if status == httpx.codes.NOT_FOUND:
        return NotFoundError(detail, status=status)
    if status in UNAVAILABLE_STATUSES:
        return ServerUnavailableError(detail, code=code, status=status)
    return DualauthError(detail, code=code, status=status)
