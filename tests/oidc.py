"""A real OpenID Connect provider for the tests: discovery, JWKS with rotating keys, an
authorization endpoint that signs in whoever the test says, and a token endpoint that checks
the client, the redirect URI, the code's single use and PKCE (S256).

It serves HTTP on a free port of 127.0.0.1 from a thread of the test process, and signs its
ID tokens with its own RSA keys (PyJWT); the test can also have it sign whatever it likes.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bench.processes import free_port

CLIENT_ID = "dualauth-web"
CLIENT_SECRET = "test-client-secret-0123456789"
NATIVE_CLIENT_ID = "dualauth-ios"


@dataclass
class SigningKey:
    """An RSA key of the provider and the id its tokens name it by."""

    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def new(cls) -> "SigningKey":
        """A fresh 2048-bit key with a random id."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid=secrets.token_hex(8), private=private)

    def jwk(self) -> dict[str, Any]:
        """The public JWK, as a JWKS lists it."""
        public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}


@dataclass
class PendingCode:
    """An authorization code waiting for its token request."""

    client_id: str
    redirect_uri: str
    challenge: str
    claims: dict[str, Any]


@dataclass
class OidcProvider:
    """The provider's state, read and changed by the tests while it serves."""

    port: int = field(default_factory=free_port)
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.new()])
    # Who the authorization endpoint signs in next, and whether the user says no.
    user: dict[str, Any] = field(default_factory=dict)
    deny: bool = False
    codes: dict[str, PendingCode] = field(default_factory=dict)
    # How many times each path was requested, and the last authorization request's query.
    hits: dict[str, int] = field(default_factory=dict)
    last_authorization: dict[str, str] = field(default_factory=dict)
    # Members the discovery document serves instead of its own (another `issuer`, say).
    discovery_changes: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def issuer(self) -> str:
        """The issuer URL, which discovery starts from."""
        return f"http://127.0.0.1:{self.port}"

    def discovery(self) -> dict[str, Any]:
        """The discovery document."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            **self.discovery_changes,
        }

    def rotate(self) -> SigningKey:
        """Sign with a new key from now on; the JWKS lists it before the old one."""
        key = SigningKey.new()
        self.keys.insert(0, key)
        return key

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """The claims of a valid ID token for the web client, with `overrides`."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "subject-1",
            "email": "alice@example.com",
            "email_verified": True,
            "name": "Alice Provider",
            "iat": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def id_token(
        self, *, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        """An ID token signed with the current key (or `key`); `None` claims are left out."""
        key = key or self.keys[0]
        return jwt.encode(
            self.claims(**claims),
            key.private,
            algorithm="RS256",
            headers={"kid": key.kid, **(headers or {})},
        )

    def hit(self, path: str) -> None:
        """Count a request of `path`."""
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1


class _Handler(BaseHTTPRequestHandler):
    provider: OidcProvider

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read what they need from the provider's state."""

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.provider.hit(url.path)
        if url.path == "/.well-known/openid-configuration":
            self._json(200, self.provider.discovery())
        elif url.path == "/jwks":
            self._json(200, {"keys": [key.jwk() for key in self.provider.keys]})
        elif url.path == "/authorize":
            self._authorize({k: v[0] for k, v in parse_qs(url.query).items()})
        else:
            self._json(404, {"error": "not_found"})

    def _authorize(self, query: dict[str, str]) -> None:
        provider = self.provider
        provider.last_authorization = query
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID or not redirect_uri:
            self._json(400, {"error": "invalid_request"})
            return
        answer: dict[str, str] = {"state": query.get("state", "")}
        if provider.deny:
            answer["error"] = "access_denied"
        elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            answer["error"] = "invalid_request"
        else:
            code = secrets.token_urlsafe(16)
            claims = provider.claims(nonce=query.get("nonce"), **provider.user)
            provider.codes[code] = PendingCode(
                client_id=CLIENT_ID,
                redirect_uri=redirect_uri,
                challenge=query["code_challenge"],
                claims=claims,
            )
            answer["code"] = code
        self.send_response(302)
        self.send_header("Location", f"{redirect_uri}?{urlencode(answer)}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        self.provider.hit(url.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if url.path != "/token":
            self._json(404, {"error": "not_found"})
            return
        provider = self.provider
        pending = provider.codes.pop(form.get("code", ""), None)
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            self._json(401, {"error": "invalid_client"})
            return
        if pending is None or form.get("grant_type") != "authorization_code":
            self._json(400, {"error": "invalid_grant"})
            return
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if not verifier or challenge != pending.challenge:
            self._json(400, {"error": "invalid_grant", "error_description": "PKCE"})
            return
        if form.get("redirect_uri") != pending.redirect_uri:
            self._json(400, {"error": "invalid_grant"})
            return
        id_token = provider.id_token(**pending.claims)
        self._json(
            200,
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 600,
                "id_token": id_token,
            },
        )


class OidcServer:
    """The provider served on its port from a daemon thread."""

    def __init__(self, provider: OidcProvider | None = None) -> None:
        self.provider = provider or OidcProvider()
        handler = type("Handler", (_Handler,), {"provider": self.provider})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.provider.port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> OidcProvider:
        self.thread.start()
        return self.provider

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
