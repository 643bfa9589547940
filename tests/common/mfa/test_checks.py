"""The second factors' system checks refuse keys that are not Fernet keys or are SECRET_KEY,
and WebAuthn origins outside the relying party; they warn where factors cannot be used safely."""

from typing import Any

import pytest

from common.mfa.checks import mfa_deploy_check, mfa_keys_check, webauthn_check
from tests.checks import ids

FERNET_KEY = "LdJ4G3bc_yk6jSIuymNtzRmRmUDRYp4nWnhK9HZyAcU="


@pytest.mark.parametrize("key", ["not-a-key", "c2hvcnQ=", "unpadded" * 5 + "abc"])
def test_an_mfa_encryption_key_that_is_not_a_fernet_key_is_e035(settings: Any, key: str) -> None:
    settings.DUALAUTH = {**settings.DUALAUTH, "MFA_ENCRYPTION_KEYS": [FERNET_KEY, key]}
    assert ids(mfa_keys_check(None)) == ["dualauth.E035"]


def test_secret_key_as_an_mfa_encryption_key_is_e036(settings: Any) -> None:
    settings.SECRET_KEY = FERNET_KEY
    settings.DUALAUTH = {**settings.DUALAUTH, "MFA_ENCRYPTION_KEYS": [FERNET_KEY]}
    assert ids(mfa_keys_check(None)) == ["dualauth.E036"]


def test_fernet_mfa_encryption_keys_pass(settings: Any) -> None:
    settings.DUALAUTH = {**settings.DUALAUTH, "MFA_ENCRYPTION_KEYS": [FERNET_KEY]}
    assert mfa_keys_check(None) == []


def test_no_mfa_encryption_key_is_a_deploy_warning(settings: Any) -> None:
    settings.DUALAUTH = {**settings.DUALAUTH, "MFA_ENCRYPTION_KEYS": []}
    assert "dualauth.W002" in ids(mfa_deploy_check(None))
    settings.DUALAUTH = {**settings.DUALAUTH, "MFA_ENCRYPTION_KEYS": [FERNET_KEY]}
    assert "dualauth.W002" not in ids(mfa_deploy_check(None))


def test_passkeys_bound_to_any_host_are_a_deploy_warning(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    assert "dualauth.W003" in ids(mfa_deploy_check(None))
    settings.DUALAUTH = {**settings.DUALAUTH, "WEBAUTHN_RP_ID": "example.com"}
    assert "dualauth.W003" not in ids(mfa_deploy_check(None))


@pytest.mark.parametrize(
    "origin", ["app.example.com", "https://app.example.com/login", "ftp://example.com", "https://"]
)
def test_a_webauthn_origin_that_is_not_an_origin_is_e037(settings: Any, origin: str) -> None:
    settings.DUALAUTH = {**settings.DUALAUTH, "WEBAUTHN_ORIGINS": [origin]}
    assert ids(webauthn_check(None)) == ["dualauth.E037"]


def test_a_webauthn_origin_outside_the_relying_party_is_e038(settings: Any) -> None:
    settings.DUALAUTH = {
        **settings.DUALAUTH,
        "WEBAUTHN_RP_ID": "example.com",
        "WEBAUTHN_ORIGINS": [
            "https://app.example.com",
            "https://example.org",
            "https://badexample.com",
        ],
    }
    assert ids(webauthn_check(None)) == ["dualauth.E038", "dualauth.E038"]


def test_webauthn_origins_inside_the_relying_party_pass(settings: Any) -> None:
    settings.DUALAUTH = {
        **settings.DUALAUTH,
        "WEBAUTHN_RP_ID": "example.com",
        "WEBAUTHN_ORIGINS": ["https://example.com", "https://app.example.com:8443"],
    }
    assert webauthn_check(None) == []
