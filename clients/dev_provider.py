"""A development OpenID Connect provider: signs in to `make run` as whoever you name.

`make provider` serves it on http://127.0.0.1:9000 and prints the variables that have
`make run` offer it as `dev`. It is a real provider: discovery, a JWKS, an authorization
endpoint (authorization code, PKCE S256 required), a token endpoint that authenticates its
confidential client (client_secret_post), checks the redirect URI, the code's single use and
the PKCE verifier, and answers an ID token signed RS256 carrying the request's nonce.

Who signs in is whoever the request names: `login_hint=EMAIL` signs that address in at once
(a script, curl), and without it the browser gets a form asking for the address. Anybody can
sign in as anybody: it is for a developer's machine and the tests (tests/oidc.py serves the
same provider), never for a server. It listens on 127.0.0.1 only and redirects only there.
"""

import argparse
import base64
import hashlib
import html
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

HOST = "127.0.0.1"
PORT = 9000
CLIENT_ID = "dualauth-dev"
# Not a secret worth keeping: this provider signs anyone in. The token endpoint checks it as
# any provider checks its client's, so that the server's client authentication is exercised.
CLIENT_SECRET = "dev-provider-secret"
# The hosts a redirect URI may name: the machine the provider runs on.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]"})
ID_TOKEN_LIFETIME = 600


class Denied(Exception):
    """The user refused the sign-in."""


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


def person(email: str) -> dict[str, Any]:
    """The claims about the person with address `email`: the same subject at every sign-in."""
    subject = hashlib.sha256(email.encode()).hexdigest()[:24]
    name = email.split("@")[0].replace(".", " ").title()
    return {"sub": subject, "email": email, "email_verified": True, "name": name}


def pkce_s256(verifier: str) -> str:
    """The S256 code challenge of `verifier` (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class OpenIdProvider:
    """The provider's state: its clients, keys and pending codes, and what it was asked."""

    port: int = PORT
    # Client id -> secret: the confidential clients the token endpoint authenticates.
    clients: dict[str, str] = field(default_factory=lambda: {CLIENT_ID: CLIENT_SECRET})
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.new()])
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
        return f"http://{HOST}:{self.port}"

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
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": ["sub", "email", "email_verified", "name", "nonce"],
            **self.discovery_changes,
        }

    def rotate(self) -> SigningKey:
        """Sign with a new key from now on; the JWKS lists it before the old one."""
        key = SigningKey.new()
        self.keys.insert(0, key)
        return key

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """The claims of an ID token issued now, with `overrides`; `None` ones are left out."""
        now = int(time.time())
        claims = {"iss": self.issuer, "iat": now, "exp": now + ID_TOKEN_LIFETIME}
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def id_token(
        self, *, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        """An ID token of `claims` signed with the current key (or `key`)."""
        key = key or self.keys[0]
        return jwt.encode(
            self.claims(**claims),
            key.private,
            algorithm="RS256",
            headers={"kid": key.kid, **(headers or {})},
        )

    def signs_in(self, request: dict[str, str]) -> dict[str, Any] | None:
        """Who the authorization `request` signs in (claims about them), or None to ask the
        browser; raises Denied when the user refused.
        """
        if request.get("denied"):
            raise Denied()
        email = request.get("login_hint", "").strip().lower()
        return person(email) if "@" in email else None

    def redirect_allowed(self, client_id: str, redirect_uri: str) -> bool:
        """Whether `client_id` may be sent back to `redirect_uri`: one on this machine."""
        parts = urlsplit(redirect_uri)
        return (
            client_id in self.clients
            and parts.scheme in {"http", "https"}
            and parts.netloc.rsplit(":", 1)[0] in LOOPBACK
            and not parts.fragment
        )

    def hit(self, path: str) -> None:
        """Count a request of `path`."""
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1


FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Development provider: sign in</title></head>
<body><main>
<h1>Sign in to the development provider</h1>
<p>It signs in whoever you name: for trying dualauth on your machine only.</p>
<form method="post" action="/authorize">
{hidden}
<label>Email address <input type="email" name="login_hint" required autofocus></label>
<button type="submit">Sign in</button>
<button type="submit" name="denied" value="1" formnovalidate>Cancel</button>
</form>
</main></body></html>
"""


class Handler(BaseHTTPRequestHandler):
    """The provider's endpoints over HTTP."""

    provider: OpenIdProvider

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: what was asked is in the provider's state."""

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, body: Any) -> None:
        self._send(status, "application/json", json.dumps(body).encode())

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

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

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        self.provider.hit(url.path)
        if url.path == "/authorize":
            self._authorize(self._form())
        elif url.path == "/token":
            self._token(self._form())
        else:
            self._json(404, {"error": "not_found"})

    def _authorize(self, request: dict[str, str]) -> None:
        provider = self.provider
        provider.last_authorization = request
        client_id, redirect_uri = request.get("client_id", ""), request.get("redirect_uri", "")
        # An unknown client or redirect URI is told to the user, never redirected to.
        if not provider.redirect_allowed(client_id, redirect_uri):
            self._json(400, {"error": "invalid_request"})
            return
        try:
            who = provider.signs_in(request)
        except Denied:
            self._redirect(request, error="access_denied")
            return
        if request.get("response_type") != "code":
            self._redirect(request, error="unsupported_response_type")
        elif request.get("code_challenge_method") != "S256" or not request.get("code_challenge"):
            self._redirect(request, error="invalid_request")
        elif who is None:
            self._ask(request)
        else:
            code = secrets.token_urlsafe(16)
            provider.codes[code] = PendingCode(
                client_id=client_id,
                redirect_uri=redirect_uri,
                challenge=request["code_challenge"],
                claims={"aud": client_id, "nonce": request.get("nonce"), **who},
            )
            self._redirect(request, code=code)

    def _redirect(self, request: dict[str, str], **answer: str) -> None:
        """Send the browser back to the client with `answer` and the request's state."""
        query = urlencode({"state": request.get("state", ""), **answer})
        self.send_response(302)
        self.send_header("Location", f"{request['redirect_uri']}?{query}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _ask(self, request: dict[str, str]) -> None:
        """The form asking who signs in, carrying the rest of the request along."""
        hidden = "\n".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in request.items()
            if k not in {"login_hint", "denied"}
        )
        self._send(200, "text/html; charset=utf-8", FORM.format(hidden=hidden).encode())

    def _token(self, form: dict[str, str]) -> None:
        provider = self.provider
        # Popped first: a code is spent by its first token request, whatever that one's fate.
        pending = provider.codes.pop(form.get("code", ""), None)
        client_id = form.get("client_id", "")
        secret = provider.clients.get(client_id)
        if secret is None or not secrets.compare_digest(form.get("client_secret", ""), secret):
            self._json(401, {"error": "invalid_client"})
            return
        if (
            pending is None
            or pending.client_id != client_id
            or form.get("grant_type") != "authorization_code"
        ):
            self._json(400, {"error": "invalid_grant"})
            return
        verifier = form.get("code_verifier", "")
        if not verifier or pkce_s256(verifier) != pending.challenge:
            self._json(400, {"error": "invalid_grant", "error_description": "PKCE"})
            return
        if form.get("redirect_uri") != pending.redirect_uri:
            self._json(400, {"error": "invalid_grant"})
            return
        self._json(
            200,
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": ID_TOKEN_LIFETIME,
                "id_token": provider.id_token(**pending.claims),
            },
        )


def server(provider: OpenIdProvider) -> ThreadingHTTPServer:
    """An HTTP server of `provider`'s endpoints, bound to its port on 127.0.0.1."""
    handler = type("ProviderHandler", (Handler,), {"provider": provider})
    return ThreadingHTTPServer((HOST, provider.port), handler)


def settings_line(provider: OpenIdProvider, client_id: str = CLIENT_ID) -> str:
    """The command that starts `make run` offering `provider` as `dev`."""
    return (
        f"PROVIDERS=dev PROVIDER_DEV_ISSUER={provider.issuer} "
        f"PROVIDER_DEV_CLIENT_ID={client_id} "
        f"PROVIDER_DEV_CLIENT_SECRET={provider.clients[client_id]} make run"
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the provider until interrupted, after printing how to start `make run` with it."""
    parser = argparse.ArgumentParser(prog="python -m clients.dev_provider", description=__doc__)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)
    provider = OpenIdProvider(port=args.port)
    httpd = server(provider)
    print(f"Development OpenID provider at {provider.issuer} (signs in anyone: never deploy it)")
    print("Start make run with it:")
    print(f"  {settings_line(provider)}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
