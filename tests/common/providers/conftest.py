"""Fixtures of the providers' tests: a real OpenID provider, configured as `test`; nonces."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import RequestFactory

from common.providers.registry import provider_get, provider_keys_forget
from common.providers.services import nonce_issue
from tests.oidc import CLIENT_ID, CLIENT_SECRET, NATIVE_CLIENT_ID, OidcProvider, OidcServer

PROVIDER = "test"


def provider_settings(op: OidcProvider, **extra: Any) -> dict[str, Any]:
    """The settings of the provider `test` served by `op`."""
    return {
        "issuer": op.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "audiences": [NATIVE_CLIENT_ID],
        **extra,
    }


@pytest.fixture(scope="session")
def shared_op() -> Iterator[OidcProvider]:
    """One provider for the session's tests that do not count its requests or rotate its keys."""
    with OidcServer() as provider:
        yield provider


@pytest.fixture
def op(shared_op: OidcProvider) -> OidcProvider:
    """The session's provider, signing in alice by default, saying yes."""
    shared_op.user = {}
    shared_op.deny = False
    return shared_op


@pytest.fixture
def own_op() -> Iterator[OidcProvider]:
    """A provider of this test's own: its requests counted from zero, its keys its own."""
    provider_keys_forget()
    with OidcServer() as provider:
        yield provider
    provider_keys_forget()


def _configure(settings: Any, op: OidcProvider, **dualauth: Any) -> None:
    # A provider on loopback speaks http://, which the settings accept with DEBUG only.
    settings.DEBUG = True
    settings.DUALAUTH = {
        **getattr(settings, "DUALAUTH", {}),
        "PROVIDERS": {PROVIDER: provider_settings(op)},
        **dualauth,
    }


@pytest.fixture
def configure(settings: Any) -> Callable[..., None]:
    """Configure `test` as served by a provider, with DUALAUTH knobs besides."""

    def configure(op: OidcProvider, **dualauth: Any) -> None:
        _configure(settings, op, **dualauth)

    return configure


@pytest.fixture
def provider(settings: Any, op: OidcProvider) -> OidcProvider:
    """The session's provider, configured as `test`."""
    _configure(settings, op)
    return op


@pytest.fixture
def nonce(db: None) -> str:
    """A fresh nonce of the server."""
    return nonce_issue()


@pytest.fixture
def rf_request() -> Any:
    """A request as a view hands the services one."""
    return RequestFactory().post("/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="tests")


@pytest.fixture
def test_provider(provider: OidcProvider) -> Any:
    """The configured `test` provider, as the registry gives it."""
    return provider_get(provider_id=PROVIDER)
