"""The `security` system checks refuse unusable, weak or shared JWT keys."""

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import CheckMessage, Tags, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from common.cache import ALIAS
from common.checks import jwt_keys_check
from tests.jwt_keys import ed25519_private_pem, rsa_private_pem

PROCESS_LOCAL_CACHES = {
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "checks"},
    "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
}
# How an error message names the key that failed.
KEY_NAME = re.compile(r"JWT_SIGNING_KEY|JWT_PREVIOUS_KEYS key \d+")


def configure(settings: Any, algorithm: str, signing_key: str) -> None:
    settings.SIMPLE_JWT = {
        **settings.SIMPLE_JWT,
        "ALGORITHM": algorithm,
        "SIGNING_KEY": signing_key,
    }


def error_ids() -> list[str]:
    return [message.id for message in jwt_keys_check(None) if message.id]


def error_messages() -> list[tuple[str, str]]:
    """Each error's id, with the key its message names."""
    named = [(message.id, KEY_NAME.search(message.msg)) for message in jwt_keys_check(None)]
    return [(str(id_), match.group() if match else "") for id_, match in named]


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


def test_a_previous_key_equal_to_secret_key_fails_the_deploy_check(settings: Any) -> None:
    configure(settings, "HS256", secrets.token_urlsafe(48))
    previous = f"{secrets.token_urlsafe(48)}\n{settings.SECRET_KEY}"
    settings.DUALAUTH = {**settings.DUALAUTH, "JWT_PREVIOUS_KEYS": previous}

    assert error_messages() == [("dualauth.E002", "JWT_PREVIOUS_KEYS key 2")]
    with pytest.raises(SystemCheckError, match=r"dualauth\.E002"):
        call_command("check", "--deploy")


@pytest.mark.parametrize("which", ["signing", "previous"])
def test_a_key_equal_to_a_secret_key_fallback_is_e002(settings: Any, which: str) -> None:
    fallback = secrets.token_urlsafe(48)
    settings.SECRET_KEY_FALLBACKS = [secrets.token_urlsafe(48), fallback]
    if which == "signing":
        configure(settings, "HS256", fallback)
    else:
        configure(settings, "HS256", secrets.token_urlsafe(48))
        settings.DUALAUTH = {**settings.DUALAUTH, "JWT_PREVIOUS_KEYS": fallback}
    name = "JWT_SIGNING_KEY" if which == "signing" else "JWT_PREVIOUS_KEYS key 1"

    assert error_messages() == [("dualauth.E002", name)]


def test_a_previous_pem_equal_to_secret_key_is_e002(settings: Any) -> None:
    pem = rsa_private_pem()
    settings.SECRET_KEY = pem
    configure(settings, "RS256", rsa_private_pem())
    settings.DUALAUTH = {**settings.DUALAUTH, "JWT_PREVIOUS_KEYS": pem}

    assert error_messages() == [("dualauth.E002", "JWT_PREVIOUS_KEYS key 1")]


def test_e004_names_each_hmac_key_that_is_too_short(settings: Any) -> None:
    configure(settings, "HS256", "k" * 31)
    settings.DUALAUTH = {**settings.DUALAUTH, "JWT_PREVIOUS_KEYS": f"{'p' * 32}\nshort"}

    assert error_messages() == [
        ("dualauth.E004", "JWT_SIGNING_KEY"),
        ("dualauth.E004", "JWT_PREVIOUS_KEYS key 2"),
    ]


def test_a_previous_rsa_key_under_2048_bits_is_e005(settings: Any) -> None:
    configure(settings, "RS256", rsa_private_pem())
    previous = f"{rsa_private_pem()}\n{rsa_private_pem(1024)}"
    settings.DUALAUTH = {**settings.DUALAUTH, "JWT_PREVIOUS_KEYS": previous}

    assert error_messages() == [("dualauth.E005", "JWT_PREVIOUS_KEYS key 2")]


def test_the_check_is_registered_and_fails_manage_py_check(settings: Any) -> None:
    configure(settings, "ES256", secrets.token_urlsafe(48))

    assert "dualauth.E003" in [message.id for message in run_checks(tags=["security"])]
    with pytest.raises(SystemCheckError, match=r"dualauth\.E003"):
        call_command("check")


def shared_cache(directory: Path) -> dict[str, Any]:
    """A cache every process on this machine shares, in `directory`."""
    return {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(directory),
    }


def deploy_errors() -> list[CheckMessage]:
    """The project's errors that `manage.py check --deploy` reports."""
    return [
        message
        for message in run_checks(include_deployment_checks=True)
        if message.is_serious() and str(message.id).startswith("dualauth.")
    ]


@pytest.mark.parametrize("backend", PROCESS_LOCAL_CACHES.keys())
@pytest.mark.parametrize("alias", [ALIAS, "session"])
def test_a_process_local_cache_fails_the_deploy_check(
    settings: Any, tmp_path: Path, alias: str, backend: str
) -> None:
    local_alias = settings.SESSION_CACHE_ALIAS if alias == "session" else alias
    settings.CACHES = {
        name: PROCESS_LOCAL_CACHES[backend] if name == local_alias else shared_cache(tmp_path)
        for name in settings.CACHES
    }
    errors = deploy_errors()

    assert [error.id for error in errors] == ["dualauth.E006"]
    assert repr(local_alias) in errors[0].msg
    assert "REDIS_URL" in str(errors[0].hint)
    assert "ALLOW_PROCESS_LOCAL_CACHE" in str(errors[0].hint)
    with pytest.raises(SystemCheckError, match=r"dualauth\.E006"):
        call_command("check", "--deploy")


def test_the_cache_check_runs_only_with_deploy(settings: Any) -> None:
    settings.CACHES = {name: PROCESS_LOCAL_CACHES["locmem"] for name in settings.CACHES}

    assert "dualauth.E006" not in [message.id for message in run_checks(tags=[Tags.security])]
    call_command("check")


def test_a_shared_cache_passes_the_deploy_check(settings: Any, tmp_path: Path) -> None:
    settings.CACHES = {name: shared_cache(tmp_path) for name in settings.CACHES}

    assert deploy_errors() == []


def test_one_process_explicitly_allowed_may_use_a_process_local_cache(settings: Any) -> None:
    settings.CACHES = {name: PROCESS_LOCAL_CACHES["locmem"] for name in settings.CACHES}
    settings.DUALAUTH = {**settings.DUALAUTH, "ALLOW_PROCESS_LOCAL_CACHE": True}

    assert deploy_errors() == []
