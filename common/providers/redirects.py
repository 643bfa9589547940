"""The browser's redirect sign-in: authorization code with PKCE (S256), state and nonce bound to
the browser by a short-lived, signed, HttpOnly cookie.

The cookie holds the `state`, the PKCE verifier, the server's nonce, the mode asked for,
the page to land on and, to link, the login that asked. Its signature keeps the browser from
changing it; its being HttpOnly and scoped to the providers' paths keeps scripts from reading
it. The callback needs that cookie and the same `state`, then redeems the code with the
verifier: a code delivered to another browser, or stolen on its way, is worth nothing.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from django.core import signing
from django.http import HttpRequest, HttpResponse

from common.conf import dualauth_settings
from common.net import frontend_url
from common.providers.exceptions import (
    ProviderStateNotValid,
    ProviderTokenNotValid,
    ProviderUnavailable,
)
from common.providers.registry import Provider, provider_endpoint
from common.providers.services import nonce_issue
from common.providers.tokens import TokenRefused
from common.routes import api_prefix

STATE_COOKIE = "provider_state"
STATE_SALT = "dualauth.providers.state"
SCOPES = "openid email profile"
LINK = "link"
# A page to land on: one leading slash, then anything but a second slash or a backslash.
SAFE_NEXT_FIRST = "/"


@dataclass(frozen=True)
class RedirectState:
    """What the browser's cookie holds between the redirect and the callback."""

    provider: str
    state: str
    verifier: str
    nonce: str
    mode: str
    next: str
    user_id: str = ""
    family_id: str = ""


def next_is_safe(value: str) -> bool:
    """Whether `value` is a path of this site: no scheme, no host, no `//` or `/\\` start."""
    if not value.startswith(SAFE_NEXT_FIRST) or value.startswith(("//", "/\\")):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc and not any(c in value for c in "\r\n\t\\")


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def state_cookie_path() -> str:
    """The path the state cookie is sent on: the providers' endpoints only."""
    return api_prefix() + "account/providers/"


def redirect_begin(
    *,
    provider: Provider,
    mode: str,
    next_path: str,
    callback_url: str,
    response: HttpResponse,
    user_id: str = "",
    family_id: str = "",
) -> str:
    """The provider's authorization URL for a new sign-in; its state set in `response`'s cookie."""
    pending = RedirectState(
        provider=provider.id,
        state=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(48),
        nonce=nonce_issue(),
        mode=mode,
        next=next_path,
        user_id=user_id,
        family_id=family_id,
    )
    lifetime = dualauth_settings.PROVIDER_STATE_LIFETIME
    response.set_cookie(
        STATE_COOKIE,
        signing.dumps(pending.__dict__, salt=STATE_SALT, compress=True),
        max_age=int(lifetime.total_seconds()),
        path=state_cookie_path(),
        secure=dualauth_settings.COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": callback_url,
            "scope": SCOPES,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": _challenge(pending.verifier),
            "code_challenge_method": "S256",
        }
    )
    endpoint = provider_endpoint(provider, "authorization_endpoint")
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def redirect_state_read(*, request: HttpRequest, provider_id: str, state: str) -> RedirectState:
    """The sign-in this browser began with `provider_id` under `state`; else 400
    `provider_state_not_valid` (no cookie, a cookie tampered with or expired, another state).
    """
    lifetime = dualauth_settings.PROVIDER_STATE_LIFETIME
    try:
        values = signing.loads(
            request.COOKIES.get(STATE_COOKIE, ""),
            salt=STATE_SALT,
            max_age=lifetime.total_seconds(),
        )
        pending = RedirectState(**values)
    except (signing.BadSignature, TypeError, ValueError) as e:
        raise ProviderStateNotValid() from e
    if pending.provider != provider_id or not hmac.compare_digest(
        pending.state.encode(), state.encode()
    ):
        raise ProviderStateNotValid()
    return pending


def state_cookie_clear(response: HttpResponse) -> None:
    """Forget the browser's sign-in state: a callback is answered once."""
    response.delete_cookie(STATE_COOKIE, path=state_cookie_path(), samesite="Lax")


def code_redeem(*, provider: Provider, code: str, verifier: str, callback_url: str) -> str:
    """The ID token the provider gives for `code` with the PKCE `verifier`.

    A refusal of the grant (a code used, another's verifier) is a 400
    `provider_token_not_valid`; a provider that cannot be reached is a 503.
    """
    try:
        response = httpx.post(
            provider_endpoint(provider, "token_endpoint"),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": callback_url,
                "client_id": provider.client_id,
                "client_secret": provider.client_secret,
                "code_verifier": verifier,
            },
            headers={"Accept": "application/json"},
            timeout=dualauth_settings.PROVIDER_HTTP_TIMEOUT.total_seconds(),
        )
    except httpx.HTTPError as e:
        raise ProviderUnavailable() from e
    body = _json(response)
    if 400 <= response.status_code < 500:
        error = body.get("error") if body else None
        raise ProviderTokenNotValid() from TokenRefused(f"grant refused: {error}")
    id_token = body.get("id_token") if body else None
    if response.status_code != 200 or not isinstance(id_token, str):
        raise ProviderUnavailable()
    return id_token


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def frontend_redirect_url(*, request: HttpRequest, path: str = "", fragment: str = "") -> str:
    """Where the SPA lands: FRONTEND_URL followed by `path` (a path of ours), and `fragment`."""
    base = urlsplit(frontend_url(request=request))
    if path:
        parts = urlsplit(path)
        base = base._replace(path=base.path.rstrip("/") + parts.path, query=parts.query)
    return urlunsplit(base._replace(fragment=fragment))


def error_url(*, request: HttpRequest, code: str) -> str:
    """The SPA's page telling a failed provider sign-in's code."""
    fragment = urlencode({"action": "provider-error", "code": code})
    return frontend_redirect_url(request=request, fragment=fragment)


def mfa_url(*, request: HttpRequest, pending: dict[str, Any]) -> str:
    """The SPA's page asking for the second factor of a provider sign-in."""
    fragment = urlencode(
        {
            "action": "mfa",
            "mfa_token": pending["mfa_token"],
            "methods": ",".join(pending["methods"]),
        }
    )
    return frontend_redirect_url(request=request, fragment=fragment)
