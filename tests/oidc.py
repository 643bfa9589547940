"""A real OpenID Connect provider for the tests: the development provider of
`clients/dev_provider.py` (discovery, JWKS with rotating keys, authorization code with PKCE
S256, a token endpoint that checks the client, the redirect URI and the code's single use),
with a web client of the tests' own, and an authorization endpoint that signs in whoever
the test says, at once.

It serves HTTP on a free port of 127.0.0.1 from a thread of the test process, and signs its
ID tokens with its own RSA keys (PyJWT); the test can also have it sign whatever it likes.
"""

import threading
from dataclasses import dataclass, field
from typing import Any

from bench.processes import free_port
from clients.dev_provider import Denied, OpenIdProvider, SigningKey, server

CLIENT_ID = "dualauth-web"
CLIENT_SECRET = "test-client-secret-0123456789"
NATIVE_CLIENT_ID = "dualauth-ios"

# The tests name the provider's keys as this module's.
__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "NATIVE_CLIENT_ID",
    "OidcProvider",
    "OidcServer",
    "SigningKey",
]


@dataclass
class OidcProvider(OpenIdProvider):
    """The provider's state, read and changed by the tests while it serves."""

    port: int = field(default_factory=free_port)
    clients: dict[str, str] = field(default_factory=lambda: {CLIENT_ID: CLIENT_SECRET})
    # Who the authorization endpoint signs in next, and whether the user says no.
    user: dict[str, Any] = field(default_factory=dict)
    deny: bool = False

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """The claims of a valid ID token for the web client, with `overrides`."""
        alice = {
            "aud": CLIENT_ID,
            "sub": "subject-1",
            "email": "alice@example.com",
            "email_verified": True,
            "name": "Alice Provider",
        }
        return super().claims(**{**alice, **overrides})

    def signs_in(self, request: dict[str, str]) -> dict[str, Any] | None:
        """Whoever the test set in `user` (alice by default), unless it has the user refuse."""
        if self.deny:
            raise Denied()
        return self.claims(**self.user)


class OidcServer:
    """The provider served on its port from a daemon thread."""

    def __init__(self, provider: OidcProvider | None = None) -> None:
        self.provider = provider or OidcProvider()
        self.httpd = server(self.provider)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> OidcProvider:
        self.thread.start()
        return self.provider

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
