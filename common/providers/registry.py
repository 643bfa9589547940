"""The configured providers, and what each publishes: its discovery document and its keys.

Discovery is fetched once and kept (in this process, and in the shared cache for the others);
the keys are kept by one PyJWKClient per provider and process, which fetches them again only
for a key id it does not hold, at most once per PROVIDER_JWKS_COOLDOWN: a provider's rotation
is followed, and no token can make us fetch on every request.
"""

import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from jwt import PyJWKClient

from common.cache import cache_get, cache_set
from common.conf import dualauth_settings
from common.memo import BoundedMemo
from common.providers.exceptions import ProviderNotConfigured, ProviderUnavailable

# The providers whose issuer is known: id -> (name, issuer).
BUILT_IN = {
    "google": ("Google", "https://accounts.google.com"),
    "apple": ("Apple", "https://appleid.apple.com"),
}
SETTING_KEYS = frozenset({"issuer", "client_id", "client_secret", "audiences", "name"})
DISCOVERY_PATH = "/.well-known/openid-configuration"
# Endpoints of a discovery document this feature calls; each must be a URL.
DISCOVERY_ENDPOINTS = ("jwks_uri", "authorization_endpoint", "token_endpoint")

logger = logging.getLogger("dualauth.providers")
_discovered: BoundedMemo[str, dict[str, Any]] = BoundedMemo(64)
_jwks_clients: dict[tuple[str, float, float, float], PyJWKClient] = {}
_jwks_lock = threading.Lock()


@dataclass(frozen=True)
class Provider:
    """One configured provider."""

    id: str
    name: str
    issuer: str
    client_id: str
    client_secret: str
    audiences: tuple[str, ...]

    @property
    def client_ids(self) -> tuple[str, ...]:
        """Every client id an ID token may be for: the web client's and the native ones."""
        return tuple(dict.fromkeys(cid for cid in (self.client_id, *self.audiences) if cid))

    @property
    def flows(self) -> list[str]:
        """The sign-in flows it offers: the redirect needs the web client's secret."""
        return ["id_token", "redirect"] if self.client_secret else ["id_token"]


def provider_from_settings(provider_id: str, values: dict[str, Any]) -> Provider:
    """The provider `provider_id` as its settings describe it."""
    name, issuer = BUILT_IN.get(provider_id, (provider_id.replace("-", " ").title(), ""))
    audiences = values.get("audiences") or ()
    if isinstance(audiences, str):
        audiences = [item.strip() for item in audiences.split(",")]
    return Provider(
        id=provider_id,
        name=str(values.get("name") or name),
        issuer=str(values.get("issuer") or issuer).rstrip("/"),
        client_id=str(values.get("client_id") or ""),
        client_secret=str(values.get("client_secret") or ""),
        audiences=tuple(str(audience) for audience in audiences if audience),
    )


def providers_configured() -> list[Provider]:
    """Every configured provider, in the order of the settings."""
    configured: dict[str, dict[str, Any]] = dualauth_settings.PROVIDERS
    return [provider_from_settings(pid, values) for pid, values in configured.items()]


def provider_get(*, provider_id: str) -> Provider:
    """The configured provider `provider_id`; 400 `provider_not_configured` otherwise."""
    for provider in providers_configured():
        if provider.id == provider_id and provider_usable(provider):
            return provider
    raise ProviderNotConfigured()


def provider_usable(provider: Provider) -> bool:
    """Whether the provider is configured enough to sign in: an issuer (https, or http with
    DEBUG, as the checks say) and a client id.
    """
    secure = provider.issuer.startswith("https://") or (
        settings.DEBUG and provider.issuer.startswith("http://")
    )
    return bool(secure and provider.client_ids)


def _timeout() -> float:
    return float(dualauth_settings.PROVIDER_HTTP_TIMEOUT.total_seconds())


def _discovery_cache_key(issuer: str) -> str:
    return "provider:discovery:" + hashlib.sha256(issuer.encode()).hexdigest()[:32]


def provider_metadata(provider: Provider) -> dict[str, Any]:
    """The provider's discovery document; 503 `provider_unavailable` when it cannot be had.

    A document naming another issuer than the one configured is refused (OpenID Connect
    Discovery 4.3): its keys would vouch for someone else's tokens.
    """
    document = _discovered.get(provider.issuer)
    if document is not None:
        return document
    key = _discovery_cache_key(provider.issuer)
    # The cache is an optimisation here: when it fails, the issuer answers.
    document = cache_get(key)
    if not isinstance(document, dict):
        document = _discovery_fetch(provider)
        cache_set(key, document, dualauth_settings.PROVIDER_JWKS_LIFETIME.total_seconds())
    _discovered.put(provider.issuer, document)
    return document


def _discovery_fetch(provider: Provider) -> dict[str, Any]:
    """Fetch and check the discovery document of `provider`."""
    try:
        response = httpx.get(provider.issuer + DISCOVERY_PATH, timeout=_timeout())
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as e:
        raise ProviderUnavailable() from e
    if not isinstance(document, dict):
        raise ProviderUnavailable()
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or issuer.rstrip("/") != provider.issuer:
        # A misconfiguration or an impostor: the operator must see which.
        logger.warning(
            "provider %s: the discovery document names another issuer, %r, than %r",
            provider.id,
            issuer,
            provider.issuer,
        )
        raise ProviderUnavailable()
    for endpoint in DISCOVERY_ENDPOINTS:
        value = document.get(endpoint)
        if value is not None and not (isinstance(value, str) and value.startswith("http")):
            raise ProviderUnavailable()
    if not document.get("jwks_uri"):
        raise ProviderUnavailable()
    return document


def provider_jwks_client(provider: Provider) -> PyJWKClient:
    """The one key client of the provider's JWKS in this process, under the current settings."""
    uri = str(provider_metadata(provider)["jwks_uri"])
    lifespan = dualauth_settings.PROVIDER_JWKS_LIFETIME.total_seconds()
    cooldown = dualauth_settings.PROVIDER_JWKS_COOLDOWN.total_seconds()
    key = (uri, lifespan, cooldown, _timeout())
    client = _jwks_clients.get(key)
    if client is None:
        with _jwks_lock:
            client = _jwks_clients.setdefault(
                key,
                PyJWKClient(uri, lifespan=lifespan, cooldown_duration=cooldown, timeout=_timeout()),
            )
    return client


def provider_keys_forget() -> None:
    """Forget what this process keeps of every provider (discovery, keys): the next sign-in
    of each fetches them again.
    """
    _discovered.clear()
    with _jwks_lock:
        _jwks_clients.clear()


def provider_endpoint(provider: Provider, name: str) -> str:
    """The URL of the provider's endpoint `name` (DISCOVERY_ENDPOINTS); 503 when it has none."""
    value = provider_metadata(provider).get(name)
    if not value:
        raise ProviderUnavailable()
    return str(value)
