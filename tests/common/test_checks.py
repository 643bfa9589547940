"""The `security` system checks refuse unusable, weak or shared JWT keys."""

import secrets
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from common.checks import jwt_keys_check
from tests.jwt_keys import ed25519_private_pem, rsa_private_pem


def configure(settings: Any, algorithm: str, signing_key: str) -> None:
    settings.SIMPLE_JWT = {
        **settings.SIMPLE_JWT,
        "ALGORITHM": algorithm,
        "SIGNING_KEY": signing_key,
    }


def error_ids() -> list[str]:
    return [message.id for message in jwt_keys_check(None) if message.id]


def test_the_configured_keys_pass() -> None:
    assert jwt_keys_check(None) == []


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [
        ("HS256", lambda: secrets.token_urlsafe(32)),
        ("HS512", lambda: secrets.token_urlsafe(64)),
        ("RS256", rsa_private_pem),
        ("EdDSA", ed25519_private_pem),
    ],
    ids=["HS256", "HS512", "RS256", "EdDSA"],
)
def test_good_keys_of_every_supported_algorithm_pass(
    settings: Any, algorithm: str, make_key: Any
) -> None:
    configure(settings, algorithm, make_key())

    assert jwt_keys_check(None) == []


def test_a_missing_signing_key_is_e001(settings: Any) -> None:
    configure(settings, "HS256", "")

    assert error_ids() == ["dualauth.E001"]


def test_secret_key_as_the_signing_key_is_e002(settings: Any) -> None:
    configure(settings, "HS256", settings.SECRET_KEY)

    assert error_ids() == ["dualauth.E002"]


def test_simplejwt_default_signing_key_is_secret_key_and_is_e002(settings: Any) -> None:
    settings.SIMPLE_JWT = {
        name: value for name, value in settings.SIMPLE_JWT.items() if name != "SIGNING_KEY"
    }

    assert error_ids() == ["dualauth.E002"]


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "ES512", "PS256", "none", "HS1"])
def test_an_unsupported_algorithm_is_e003(settings: Any, algorithm: str) -> None:
    configure(settings, algorithm, secrets.token_urlsafe(48))

    assert error_ids() == ["dualauth.E003"]


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [
        ("RS256", lambda: secrets.token_urlsafe(48)),
        ("EdDSA", lambda: secrets.token_urlsafe(48)),
        ("RS256", ed25519_private_pem),
        ("EdDSA", lambda: rsa_private_pem(1024)),
        ("RS256", lambda: "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----"),
    ],
    ids=["RS256-secret", "EdDSA-secret", "RS256-ed25519", "EdDSA-rsa", "RS256-broken-pem"],
)
def test_an_asymmetric_algorithm_without_a_usable_key_of_its_kind_is_e003(
    settings: Any, algorithm: str, make_key: Any
) -> None:
    configure(settings, algorithm, make_key())

    assert error_ids() == ["dualauth.E003"]


def test_an_unusable_previous_key_is_e003(settings: Any) -> None:
    configure(settings, "RS256", rsa_private_pem())
    settings.DUALAUTH = {**settings.DUALAUTH, "JWT_PREVIOUS_KEYS": ed25519_private_pem()}

    assert error_ids() == ["dualauth.E003"]


def test_an_hmac_key_under_256_bits_is_e004(settings: Any) -> None:
    configure(settings, "HS256", "k" * 31)
    short = error_ids()
    configure(settings, "HS256", "k" * 32)

    assert short == ["dualauth.E004"]
    assert error_ids() == []


@pytest.mark.parametrize(("algorithm", "minimum"), [("HS384", 48), ("HS512", 64)])
def test_an_hmac_key_shorter_than_its_hash_is_e004(
    settings: Any, algorithm: str, minimum: int
) -> None:
    configure(settings, algorithm, "k" * (minimum - 1))
    short = error_ids()
    configure(settings, algorithm, "k" * minimum)

    assert short == ["dualauth.E004"]
    assert error_ids() == []


def test_a_short_previous_hmac_key_is_e004(settings: Any) -> None:
    configure(settings, "HS256", "k" * 32)
    settings.DUALAUTH = {"JWT_PREVIOUS_KEYS": "short"}

    assert error_ids() == ["dualauth.E004"]


def test_an_rsa_key_under_2048_bits_is_e005(settings: Any) -> None:
    configure(settings, "RS256", rsa_private_pem(1024))

    assert error_ids() == ["dualauth.E005"]


def test_the_check_is_registered_and_fails_manage_py_check(settings: Any) -> None:
    configure(settings, "ES256", secrets.token_urlsafe(48))

    assert "dualauth.E003" in [message.id for message in run_checks(tags=["security"])]
    with pytest.raises(SystemCheckError, match=r"dualauth\.E003"):
        call_command("check")
