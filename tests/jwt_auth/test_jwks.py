"""GET /.well-known/jwks.json: the public keys, enough for another service to verify tokens."""

import secrets
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient
from rest_framework_simplejwt import settings as simplejwt_settings

from jwt_auth.keys import key_set
from tests.jwt_keys import segment_decode

pytestmark = pytest.mark.django_db

JWKS = "/.well-known/jwks.json"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
Configure = Callable[..., None]


@pytest.fixture(params=["RS256", "EdDSA"])
def asymmetric_keys(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """An asymmetric algorithm with its previous and current private keys."""
    prefix = "rsa" if request.param == "RS256" else "ed25519"
    return (
        str(request.param),
        request.getfixturevalue(f"{prefix}_previous_pem"),
        request.getfixturevalue(f"{prefix}_pem"),
    )


def test_jwks_lists_the_current_and_previous_public_keys_and_nothing_private(
    api: APIClient, jwt_configure: Configure, asymmetric_keys: tuple[str, str, str]
) -> None:
    algorithm, previous, current = asymmetric_keys
    jwt_configure(algorithm, previous)
    previous_kid = key_set().kid
    jwt_configure(algorithm, current, previous=previous)

    response = api.get(JWKS)

    assert response.status_code == 200
    keys = response.json()["keys"]
    assert [key["kid"] for key in keys] == [key_set().kid, previous_kid]
    for key in keys:
        assert key["alg"] == algorithm
        assert key["use"] == "sig"
        assert key["kty"] == ("RSA" if algorithm == "RS256" else "OKP")
        assert not PRIVATE_MEMBERS & set(key), key


def test_a_token_verifies_with_the_jwks_alone(
    api: APIClient,
    jwt_configure: Configure,
    asymmetric_keys: tuple[str, str, str],
    obtain: Callable[[], dict[str, Any]],
    user: User,
    django_db_blocker: Any,
) -> None:
    algorithm, previous, current = asymmetric_keys
    jwt_configure(algorithm, current, previous=previous)
    access = obtain()["access"]
    jwks = api.get(JWKS).json()
    settings = simplejwt_settings.api_settings

    # What another service holds: the JWKS document, the issuer and the audience; no database.
    with django_db_blocker.block():
        kid = segment_decode(access.split(".")[0])["kid"]
        jwk = jwt.PyJWKSet.from_dict(jwks)[kid]
        claims = jwt.decode(
            access,
            jwk.key,
            algorithms=[jwk.algorithm_name],
            audience=settings.AUDIENCE,
            issuer=settings.ISSUER,
        )

    assert jwk.algorithm_name == algorithm
    assert claims["token_type"] == "access"
    assert claims["sub"] == str(user.pk)


def test_a_token_of_the_previous_key_verifies_with_the_jwks_alone(
    api: APIClient,
    jwt_configure: Configure,
    asymmetric_keys: tuple[str, str, str],
    obtain: Callable[[], dict[str, Any]],
) -> None:
    algorithm, previous, current = asymmetric_keys
    jwt_configure(algorithm, previous)
    access = obtain()["access"]
    jwt_configure(algorithm, current, previous=previous)
    jwks = jwt.PyJWKSet.from_dict(api.get(JWKS).json())

    jwk = jwks[segment_decode(access.split(".")[0])["kid"]]
    settings = simplejwt_settings.api_settings

    assert jwt.decode(
        access, jwk.key, algorithms=[algorithm], audience=settings.AUDIENCE, issuer=settings.ISSUER
    )


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_jwks_is_a_json_404_with_a_shared_secret(
    api: APIClient, jwt_configure: Configure, algorithm: str
) -> None:
    jwt_configure(algorithm, secrets.token_urlsafe(64))

    response = api.get(JWKS)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"detail", "code"}
    assert response.json()["code"] == "not_found"
