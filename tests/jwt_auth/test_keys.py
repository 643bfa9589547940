"""Keys named by `kid`: rotation through JWT_PREVIOUS_KEYS, deterministic algorithms only."""

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from jwt_auth.keys import key_set
from jwt_auth.tokens import FamilyAccessToken, FamilyRefreshToken, token_build
from tests.jwt_keys import rsa_private_pem, segment_decode

pytestmark = pytest.mark.django_db

PROFILE = "/api/jwt/profile/"
REFRESH = "/api/jwt/token/refresh/"
VERIFY = "/api/jwt/token/verify/"
Configure = Callable[..., None]
Obtain = Callable[[], dict[str, Any]]


def kid_of(token: str) -> str:
    return str(segment_decode(token.split(".")[0])["kid"])


def alg_of(token: str) -> str:
    return str(segment_decode(token.split(".")[0])["alg"])


def assert_not_valid(response: Any) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid", response.content


def test_a_token_of_a_previous_key_still_verifies_after_rotation(
    api: APIClient,
    jwt_configure: Configure,
    obtain: Obtain,
    rotation_keys: tuple[str, str, str],
) -> None:
    algorithm, old, new = rotation_keys
    jwt_configure(algorithm, old)
    pair = obtain()
    jwt_configure(algorithm, new, previous=old)

    profile = api.get(PROFILE, HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    verified = api.post(VERIFY, {"token": pair["access"]}, format="json")
    refreshed = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")

    assert profile.status_code == 200, profile.content
    assert verified.status_code == 200, verified.content
    assert refreshed.status_code == 200, refreshed.content
    assert kid_of(refreshed.json()["access"]) == key_set().kid
    assert kid_of(refreshed.json()["refresh"]) == key_set().kid


def test_new_tokens_carry_the_new_kid_after_rotation(
    jwt_configure: Configure, obtain: Obtain, rotation_keys: tuple[str, str, str]
) -> None:
    algorithm, old, new = rotation_keys
    jwt_configure(algorithm, old)
    old_kid = kid_of(obtain()["access"])
    jwt_configure(algorithm, new, previous=old)

    pair = obtain()

    assert kid_of(pair["access"]) == kid_of(pair["refresh"]) == key_set().kid
    assert key_set().kid != old_kid
    assert alg_of(pair["access"]) == algorithm
    assert set(key_set().verifying_keys) == {key_set().kid, old_kid}


def test_a_token_of_a_key_removed_from_the_list_is_refused(
    api: APIClient,
    jwt_configure: Configure,
    obtain: Obtain,
    rotation_keys: tuple[str, str, str],
) -> None:
    algorithm, old, new = rotation_keys
    jwt_configure(algorithm, old)
    pair = obtain()
    jwt_configure(algorithm, new, previous=old)
    jwt_configure(algorithm, new)

    assert_not_valid(api.get(PROFILE, HTTP_AUTHORIZATION=f"Bearer {pair['access']}"))
    assert_not_valid(api.post(VERIFY, {"token": pair["access"]}, format="json"))
    assert_not_valid(api.post(REFRESH, {"refresh": pair["refresh"]}, format="json"))


def test_previous_hmac_secrets_are_read_one_per_line(jwt_configure: Configure) -> None:
    current, first, second = (secrets.token_urlsafe(48) for _ in range(3))
    jwt_configure("HS256", first)
    first_kid = key_set().kid
    jwt_configure("HS256", second)
    second_kid = key_set().kid

    jwt_configure("HS256", current, previous=f"\n  {first}  \n\n{second}\n")

    assert set(key_set().verifying_keys) == {key_set().kid, first_kid, second_kid}


def test_previous_keys_are_read_as_pem_blocks(
    jwt_configure: Configure, rsa_pem: str, rsa_previous_pem: str
) -> None:
    oldest_pem = rsa_private_pem()
    jwt_configure("RS256", oldest_pem)
    oldest_kid = key_set().kid
    jwt_configure("RS256", rsa_previous_pem)
    previous_kid = key_set().kid

    jwt_configure("RS256", rsa_pem, previous=f"{rsa_previous_pem}\n\n{oldest_pem}\n")

    assert [jwk["kid"] for jwk in key_set().public_jwks] == [
        key_set().kid,
        previous_kid,
        oldest_kid,
    ]
    assert set(key_set().verifying_keys) == {key_set().kid, previous_kid, oldest_kid}


def test_asymmetric_verifying_keys_are_public_keys_only(
    jwt_configure: Configure, rotation_keys: tuple[str, str, str]
) -> None:
    algorithm, old, new = rotation_keys
    jwt_configure(algorithm, new, previous=old)

    for key in key_set().verifying_keys.values():
        assert isinstance(key, str) == (algorithm == "HS256")
        assert not hasattr(key, "private_bytes")


def test_the_same_claims_sign_the_very_same_token(
    jwt_configure: Configure, rotation_keys: tuple[str, str, str]
) -> None:
    algorithm, _, new = rotation_keys
    jwt_configure(algorithm, new)
    issued_at = timezone.now()

    def sign(token_class: type[FamilyAccessToken] | type[FamilyRefreshToken]) -> str:
        return token_build(
            token_class,
            user_id=1,
            family_id="f" * 32,
            jti="j" * 32,
            issued_at=issued_at,
            expires_at=issued_at + timedelta(minutes=5),
        )

    assert sign(FamilyRefreshToken) == sign(FamilyRefreshToken)
    assert sign(FamilyAccessToken) == sign(FamilyAccessToken)


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "ES512", "PS256", "none", "HS1"])
def test_other_algorithms_are_refused_by_the_key_set(
    jwt_configure: Configure, algorithm: str
) -> None:
    jwt_configure(algorithm, secrets.token_urlsafe(48))

    with pytest.raises(ValueError, match="not supported"):
        key_set()
