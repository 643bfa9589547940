"""The development provider over real HTTP: who it signs in (login_hint, its form, a refusal),
where it redirects, and what its token endpoint checks before it answers an ID token.
"""

import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from bench.processes import free_port, http_answer
from clients.dev_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    OpenIdProvider,
    person,
    pkce_s256,
    server,
)
from tests.live import ROOT

REDIRECT_URI = "http://127.0.0.1/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[OpenIdProvider]:
    """The development provider on a free port, served from a thread."""
    provider = OpenIdProvider(port=free_port())
    httpd = server(provider)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield provider
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def http(provider: OpenIdProvider) -> Iterator[httpx.Client]:
    """A client of the provider that follows no redirect."""
    with httpx.Client(base_url=provider.issuer, follow_redirects=False, timeout=10) as client:
        yield client


def authorization(verifier: str, **changes: str) -> dict[str, str]:
    """An authorization request of the development client, with `changes`."""
    request = {
        "response_type": "code",
        "scope": "openid email",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "state": "state-1",
        "nonce": "nonce-1",
        "code_challenge": pkce_s256(verifier),
        "code_challenge_method": "S256",
    }
    return {**request, **changes}


def answer(response: httpx.Response) -> dict[str, str]:
    """The query of the redirect back to the client."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def token(http: httpx.Client, code: str, verifier: str, **changes: str) -> httpx.Response:
    """The token request of the development client for `code`."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    return http.post("/token", data={**form, **changes})


def id_token_claims(provider: OpenIdProvider, http: httpx.Client, id_token: str) -> dict[str, Any]:
    """The claims of `id_token`, verified with the key its JWKS lists."""
    keys = jwt.PyJWKSet.from_dict(http.get("/jwks").json())
    kid = jwt.get_unverified_header(id_token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    return jwt.decode(
        id_token, key, algorithms=["RS256"], audience=CLIENT_ID, issuer=provider.issuer
    )


def test_a_login_hint_signs_that_address_in_and_its_id_token_carries_the_nonce(provider, http):
    verifier = secrets.token_urlsafe(32)
    back = answer(http.get("/authorize", params=authorization(verifier, login_hint="Lewis@X.org")))
    assert back["state"] == "state-1"
    response = token(http, back["code"], verifier)
    assert response.status_code == 200, response.text
    claims = id_token_claims(provider, http, response.json()["id_token"])
    assert claims["nonce"] == "nonce-1"
    assert claims["email"] == "lewis@x.org"
    assert claims["email_verified"] is True
    # The same person at every sign-in: the subject follows from the address alone.
    assert claims["sub"] == person("lewis@x.org")["sub"]


def test_without_a_login_hint_a_form_asks_and_its_answer_signs_in(provider, http):
    verifier = secrets.token_urlsafe(32)
    form = http.get("/authorize", params=authorization(verifier))
    assert form.status_code == 200
    assert form.headers["content-type"].startswith("text/html")
    assert 'name="login_hint"' in form.text
    assert 'name="state" value="state-1"' in form.text
    posted = http.post("/authorize", data=authorization(verifier, login_hint="ada@example.com"))
    response = token(http, answer(posted)["code"], verifier)
    assert id_token_claims(provider, http, response.json()["id_token"])["email"] == (
        "ada@example.com"
    )


def test_cancel_in_the_form_sends_access_denied_back(http):
    refused = answer(http.post("/authorize", data=authorization("v" * 43, denied="1")))
    assert refused == {"state": "state-1", "error": "access_denied"}


@pytest.mark.parametrize(
    "changes",
    [
        {"redirect_uri": "https://attacker.example/callback"},
        {"redirect_uri": "http://127.0.0.1.attacker.example/callback"},
        {"client_id": "someone-else"},
    ],
    ids=["another host", "a lookalike host", "an unknown client"],
)
def test_an_unknown_client_or_a_redirect_off_this_machine_is_refused_without_redirect(
    http, changes
):
    response = http.get("/authorize", params=authorization("v" * 43, login_hint="a@b.c", **changes))
    assert response.status_code == 400
    assert "location" not in response.headers


def test_an_authorization_without_pkce_s256_gets_no_code(http):
    plain = authorization("v" * 43, login_hint="a@b.c", code_challenge_method="plain")
    assert answer(http.get("/authorize", params=plain)) == {
        "state": "state-1",
        "error": "invalid_request",
    }


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"client_secret": "guessed"}, 401),
        ({"code_verifier": "another-verifier-of-the-right-length-0123456789"}, 400),
        ({"redirect_uri": "http://127.0.0.1/elsewhere"}, 400),
        ({"grant_type": "refresh_token"}, 400),
    ],
    ids=["a wrong secret", "a wrong verifier", "another redirect URI", "another grant"],
)
def test_a_token_request_that_fails_a_check_gets_no_id_token_and_spends_the_code(
    http, changes, status
):
    verifier = secrets.token_urlsafe(32)
    back = answer(http.get("/authorize", params=authorization(verifier, login_hint="a@b.c")))
    refused = token(http, back["code"], verifier, **changes)
    assert refused.status_code == status
    assert "id_token" not in refused.json()
    assert token(http, back["code"], verifier).status_code == 400


def test_a_code_is_good_for_one_token_request(http):
    verifier = secrets.token_urlsafe(32)
    back = answer(http.get("/authorize", params=authorization(verifier, login_hint="a@b.c")))
    assert token(http, back["code"], verifier).status_code == 200
    assert token(http, back["code"], verifier).json() == {"error": "invalid_grant"}


def test_started_it_prints_the_command_that_starts_make_run_with_it(tmp_path):
    port = free_port()
    log_path = tmp_path / "provider.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "clients.dev_provider", "--port", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
        while (discovery := http_answer(url, accept={200})) is None:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        assert discovery.json()["issuer"] == f"http://127.0.0.1:{port}"
        assert log_path.read_text().splitlines()[-1].strip() == (
            f"PROVIDERS=dev PROVIDER_DEV_ISSUER=http://127.0.0.1:{port} "
            f"PROVIDER_DEV_CLIENT_ID={CLIENT_ID} PROVIDER_DEV_CLIENT_SECRET={CLIENT_SECRET} "
            "make run"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
