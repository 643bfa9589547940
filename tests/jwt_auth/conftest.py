"""Fixtures of the JWT tests: keys, a switchable algorithm, a token pair, a forger."""

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient
from rest_framework_simplejwt import settings as simplejwt_settings

from tests.jwt_keys import ed25519_private_pem, jws_sign, rsa_private_pem, segment_decode

TOKEN_PATH = "/api/jwt/token/"


@pytest.fixture(scope="module")
def rsa_pem() -> str:
    """An RSA 2048 private key, made once per module."""
    return rsa_private_pem()


@pytest.fixture(scope="module")
def rsa_previous_pem() -> str:
    """Another RSA key: the one before a rotation."""
    return rsa_private_pem()


@pytest.fixture(scope="module")
def ed25519_pem() -> str:
    """An Ed25519 private key, made once per module."""
    return ed25519_private_pem()


@pytest.fixture(scope="module")
def ed25519_previous_pem() -> str:
    """Another Ed25519 key: the one before a rotation."""
    return ed25519_private_pem()


@pytest.fixture
def jwt_configure(settings: Any) -> Callable[..., None]:
    """Switch the JWT algorithm, signing key and previous keys for this test only."""

    def configure(algorithm: str, signing_key: str, previous: str = "") -> None:
        # New dicts, never in-place edits: the fixture restores the originals and
        # setting_changed makes simplejwt and dualauth reload theirs.
        settings.SIMPLE_JWT = {
            **settings.SIMPLE_JWT,
            "ALGORITHM": algorithm,
            "SIGNING_KEY": signing_key,
        }
        settings.DUALAUTH = {**settings.DUALAUTH, "JWT_PREVIOUS_KEYS": previous}

    return configure


@pytest.fixture
def obtain(api: APIClient, user: User, password: str) -> Callable[[], dict[str, Any]]:
    """Log alice in through POST /api/jwt/token/ and return the pair."""

    def login() -> dict[str, Any]:
        response = api.post(
            TOKEN_PATH, {"username": user.get_username(), "password": password}, format="json"
        )
        assert response.status_code == 200, response.content
        pair: dict[str, Any] = response.json()
        return pair

    return login


@pytest.fixture
def pair(obtain: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A fresh access and refresh token of alice, under the current configuration."""
    return obtain()


@pytest.fixture
def forge() -> Callable[..., str]:
    """Re-sign a real token with changes to its header and claims, with any key.

    The key defaults to the configured signing key, so that only the change differs
    from a token the server itself would have issued.
    """

    def forge(
        token: str,
        *,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        drop_header: tuple[str, ...] = (),
        drop_claims: tuple[str, ...] = (),
        key: str | bytes | None = None,
    ) -> str:
        head, body, _ = token.split(".")
        new_header = {**segment_decode(head), **(header or {})}
        new_claims = {**segment_decode(body), **(claims or {})}
        for name in drop_header:
            new_header.pop(name)
        for name in drop_claims:
            new_claims.pop(name)
        signing_key = simplejwt_settings.api_settings.SIGNING_KEY if key is None else key
        return jws_sign(new_header, new_claims, signing_key)

    return forge


@pytest.fixture(params=["HS256", "RS256", "EdDSA"])
def rotation_keys(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """An algorithm, in turn each kind, with its old and its new signing key."""
    algorithm = str(request.param)
    if algorithm == "HS256":
        return algorithm, secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    prefix = "rsa" if algorithm == "RS256" else "ed25519"
    return (
        algorithm,
        request.getfixturevalue(f"{prefix}_previous_pem"),
        request.getfixturevalue(f"{prefix}_pem"),
    )
