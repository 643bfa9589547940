"""The system checks refuse what dualauth cannot work with: keys, caches, claims, URLs, classes."""

import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.checks import CheckMessage, Tags, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import models
from django.test import override_settings
from django.urls import include, path

from common.checks import (
    api_urls_check,
    cache_cluster_check,
    cache_hang_check,
    cache_pending_poll_check,
    cache_store_check,
    cookies_check,
    installed_apps_check,
    middleware_check,
    push_cache_check,
    push_timing_check,
    rest_framework_check,
    shared_cache_check,
    throttle_fallback_check,
    user_model_check,
)
from common.conf import CACHE_ALIAS, dualauth_settings
from common.middleware import ApiResponseMiddleware
from common.parsers import BoundedJSONParser
from jwt_auth.checks import jwt_keys_check, token_claims_check
from project.settings import redis_caches
from session_auth import sessions
from session_auth.checks import family_middleware_check, session_engine_check
from session_auth.middleware import FamilyAuthenticationMiddleware
from tests.checks import deploy_errors, ids, production_mail
from tests.jwt_keys import ed25519_private_pem, rsa_private_pem

PROCESS_LOCAL_CACHES = {
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "checks"},
    "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
}


@pytest.fixture(autouse=True)
def _production_mail(settings: Any) -> None:
    production_mail(settings)


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


@pytest.mark.parametrize("backend", PROCESS_LOCAL_CACHES.keys())
@pytest.mark.parametrize("alias", [CACHE_ALIAS, "session"])
def test_a_process_local_cache_fails_the_deploy_check(
    settings: Any, tmp_path: Path, alias: str, backend: str
) -> None:
    local_alias = settings.SESSION_CACHE_ALIAS if alias == "session" else alias
    settings.CACHES = {
        name: PROCESS_LOCAL_CACHES[backend] if name == local_alias else shared_cache(tmp_path)
        for name in settings.CACHES
    }
    errors = deploy_errors()
    [local] = [error for error in errors if error.id == "dualauth.E006"]

    # One alias local and the other shared are also two stores: E008.
    assert ids(errors) == ["dualauth.E006", "dualauth.E008"]
    assert repr(local_alias) in local.msg
    assert "REDIS_URL" in str(local.hint)
    assert "ALLOW_PROCESS_LOCAL_CACHE" in str(local.hint)
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


def assert_fails_manage_py_check(error_id: str, tag: str, fail_level: str = "ERROR") -> None:
    """`manage.py check` runs the check, tagged `tag`, and fails on `error_id`."""
    assert error_id in [message.id for message in run_checks(tags=[tag])]
    with pytest.raises(SystemCheckError, match=re.escape(error_id)):
        call_command("check", fail_level=fail_level)


def dualauth_set(settings: Any, **values: Any) -> None:
    """Override these keys of DUALAUTH."""
    settings.DUALAUTH = {**settings.DUALAUTH, **values}


def simple_jwt_set(settings: Any, **values: Any) -> None:
    """Override these keys of SIMPLE_JWT."""
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, **values}


def rest_framework_set(settings: Any, **values: Any) -> None:
    """Override these keys of REST_FRAMEWORK."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, **values}


def test_the_shipped_caches_are_one_store() -> None:
    assert cache_store_check(None) == []


def test_aliases_of_one_store_may_differ_in_options_and_in_defaults_written_out(
    settings: Any, tmp_path: Path
) -> None:
    store = shared_cache(tmp_path)
    settings.CACHES = {
        settings.SESSION_CACHE_ALIAS: {**store, "OPTIONS": {"MAX_ENTRIES": 100}},
        CACHE_ALIAS: {**store, "KEY_PREFIX": "", "VERSION": 1, "KEY_FUNCTION": None},
    }

    assert cache_store_check(None) == []


def test_sessions_in_the_dualauth_alias_itself_are_one_store(settings: Any) -> None:
    settings.SESSION_CACHE_ALIAS = CACHE_ALIAS

    assert cache_store_check(None) == []


def test_caches_without_the_dualauth_alias_are_e007(settings: Any) -> None:
    settings.CACHES = {
        name: cache for name, cache in settings.CACHES.items() if name != CACHE_ALIAS
    }
    errors = cache_store_check(None)

    assert ids(errors) == ["dualauth.E007"]
    assert repr(CACHE_ALIAS) in errors[0].msg
    # The deploy check of process-local caches does not trip over the missing alias.
    shared_cache_check(None)


def test_a_session_cache_alias_missing_from_caches_is_e007(settings: Any) -> None:
    settings.SESSION_CACHE_ALIAS = "sessions"
    errors = cache_store_check(None)

    assert ids(errors) == ["dualauth.E007"]
    assert "'sessions'" in errors[0].msg
    assert_fails_manage_py_check("dualauth.E007", Tags.caches)


def other_key_function(key: str, key_prefix: str, version: int) -> str:
    """A key scheme other than Django's."""
    return f"{version}/{key_prefix}/{key}"


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("BACKEND", "django.core.cache.backends.locmem.LocMemCache"),
        ("LOCATION", "elsewhere"),
        ("KEY_PREFIX", "other"),
        ("VERSION", 2),
        ("KEY_FUNCTION", f"{__name__}.other_key_function"),
    ],
)
def test_a_session_cache_of_another_store_or_key_scheme_is_e008(
    settings: Any, tmp_path: Path, setting: str, value: Any
) -> None:
    store = shared_cache(tmp_path)
    settings.CACHES = {settings.SESSION_CACHE_ALIAS: store, CACHE_ALIAS: {**store, setting: value}}
    errors = cache_store_check(None)

    assert ids(errors) == ["dualauth.E008"]
    assert setting in errors[0].msg


class SessionStore(sessions.SessionStore):
    """A project's own session store, derived from dualauth's: SESSION_ENGINE may name us."""


def test_the_shipped_session_engine_passes() -> None:
    assert session_engine_check(None) == []


def test_a_session_engine_derived_from_dualauths_passes(settings: Any) -> None:
    settings.SESSION_ENGINE = __name__

    assert session_engine_check(None) == []


@pytest.mark.parametrize(
    "engine",
    ["django.contrib.sessions.backends.cached_db", "django.contrib.sessions.backends.cache"],
)
def test_another_session_engine_is_e010(settings: Any, engine: str) -> None:
    settings.SESSION_ENGINE = engine

    assert ids(session_engine_check(None)) == ["dualauth.E010"]
    assert_fails_manage_py_check("dualauth.E010", Tags.security)


@pytest.mark.parametrize("engine", ["session_auth.no_such_module", "common.conf"])
def test_a_session_engine_without_a_session_store_to_import_is_e009(
    settings: Any, engine: str
) -> None:
    settings.SESSION_ENGINE = engine

    assert ids(session_engine_check(None)) == ["dualauth.E009"]


def test_the_shipped_token_claims_pass() -> None:
    assert token_claims_check(None) == []


def test_the_user_id_may_be_in_a_claim_of_its_own_name(settings: Any) -> None:
    simple_jwt_set(settings, USER_ID_CLAIM="user_id")

    assert token_claims_check(None) == []


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "jti", "iss", "aud", "token_type", "fam"])
def test_a_user_id_claim_that_has_another_meaning_is_e011(settings: Any, claim: str) -> None:
    simple_jwt_set(settings, USER_ID_CLAIM=claim)

    assert ids(token_claims_check(None)) == ["dualauth.E011"]


def test_a_renamed_jti_claim_is_e012(settings: Any) -> None:
    simple_jwt_set(settings, JTI_CLAIM="id")

    assert ids(token_claims_check(None)) == ["dualauth.E012"]
    assert_fails_manage_py_check("dualauth.E012", Tags.security)


def test_a_renamed_token_type_claim_is_e013(settings: Any) -> None:
    simple_jwt_set(settings, TOKEN_TYPE_CLAIM="typ")

    assert ids(token_claims_check(None)) == ["dualauth.E013"]


def test_the_shipped_cookies_pass() -> None:
    assert cookies_check(None) == []


@pytest.mark.parametrize(
    ("setting", "name", "other"),
    [
        ("ACCESS_COOKIE_NAME", "sessionid", "SESSION_COOKIE_NAME"),
        ("REFRESH_COOKIE_NAME", "csrftoken", "CSRF_COOKIE_NAME"),
        ("DEVICE_COOKIE_NAME", "access_token", "ACCESS_COOKIE_NAME"),
        ("SESSION_COOKIE_NAME", "refresh_token", "REFRESH_COOKIE_NAME"),
        ("CSRF_COOKIE_NAME", "login_device", "DEVICE_COOKIE_NAME"),
    ],
)
def test_two_cookies_of_one_name_are_e014(
    settings: Any, setting: str, name: str, other: str
) -> None:
    if setting.startswith(("SESSION", "CSRF")):
        setattr(settings, setting, name)
    else:
        dualauth_set(settings, **{setting: name})
    errors = cookies_check(None)

    assert ids(errors) == ["dualauth.E014"]
    assert setting in errors[0].msg
    assert other in errors[0].msg
    assert_fails_manage_py_check("dualauth.E014", Tags.security)


# The URLconf of a project that mounted dualauth's URLs at /v1/.
urlpatterns = [path("v1/", include("common.urls"))]


def test_the_shipped_urls_pass() -> None:
    assert api_urls_check(None) == []


@pytest.mark.urls(__name__)
def test_urls_mounted_elsewhere_pass_with_a_cors_regex_of_their_prefix(settings: Any) -> None:
    settings.CORS_URLS_REGEX = r"^/v1/.*$"

    assert api_urls_check(None) == []


@pytest.mark.urls(__name__)
def test_a_cors_regex_of_another_prefix_than_the_mount_is_w001_naming_the_mount(
    settings: Any,
) -> None:
    warnings = api_urls_check(None)

    assert ids(warnings) == ["dualauth.W001"]
    assert "'/v1/profile/'" in warnings[0].msg
    assert 'r"^/v1/.*$"' in str(warnings[0].hint)


@pytest.mark.urls("common.urls")
def test_urls_without_the_dualauth_namespace_are_e018_showing_the_line_to_add() -> None:
    errors = api_urls_check(None)

    assert ids(errors) == ["dualauth.E018"]
    assert 'path("api/", include("common.urls"))' in str(errors[0].hint)


@pytest.mark.urls("django.contrib.auth.urls")
def test_a_urlconf_that_does_not_include_dualauth_is_e018() -> None:
    assert ids(api_urls_check(None)) == ["dualauth.E018"]
    with pytest.raises(SystemCheckError, match=r"dualauth\.E018"):
        call_command("check")


def test_a_cors_regex_that_misses_the_api_is_w001(settings: Any) -> None:
    settings.CORS_URLS_REGEX = r"^/other/.*$"

    assert ids(api_urls_check(None)) == ["dualauth.W001"]
    assert_fails_manage_py_check("dualauth.W001", Tags.urls, fail_level="WARNING")


def test_no_cors_regex_at_all_passes(settings: Any) -> None:
    del settings.CORS_URLS_REGEX

    assert api_urls_check(None) == []


class OwnApiResponseMiddleware(ApiResponseMiddleware):
    """A project's own API response middleware, derived from dualauth's."""


class OwnFamilyAuthenticationMiddleware(FamilyAuthenticationMiddleware):
    """A project's own authentication middleware, derived from dualauth's."""


def middleware_replace(settings: Any, old: str, *new: str) -> None:
    """MIDDLEWARE with `old` replaced by `new` (removed, without)."""
    index = settings.MIDDLEWARE.index(old)
    settings.MIDDLEWARE = [*settings.MIDDLEWARE[:index], *new, *settings.MIDDLEWARE[index + 1 :]]


API_RESPONSE = "common.middleware.ApiResponseMiddleware"
FAMILY_AUTHENTICATION = "session_auth.middleware.FamilyAuthenticationMiddleware"
DJANGO_AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"
SESSIONS = "session_auth.middleware.BrowserSessionMiddleware"


def middleware_ids() -> list[str]:
    """The ids of what the core's and the session mode's middleware checks refuse, in order."""
    return sorted(ids([*middleware_check(None), *family_middleware_check(None)]))


def test_the_shipped_middleware_passes() -> None:
    assert middleware_ids() == []


def test_middleware_derived_from_dualauths_passes(settings: Any) -> None:
    middleware_replace(settings, API_RESPONSE, f"{__name__}.OwnApiResponseMiddleware")
    middleware_replace(
        settings, FAMILY_AUTHENTICATION, f"{__name__}.OwnFamilyAuthenticationMiddleware"
    )

    assert middleware_ids() == []


def test_the_api_response_middleware_anywhere_but_first_is_e020(settings: Any) -> None:
    middleware_replace(settings, API_RESPONSE)
    without = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = [without[0], API_RESPONSE, *without[1:]]

    assert middleware_ids() == ["dualauth.E020"]
    assert_fails_manage_py_check("dualauth.E020", Tags.security)


def test_no_api_response_middleware_is_e020(settings: Any) -> None:
    middleware_replace(settings, API_RESPONSE)

    assert middleware_ids() == ["dualauth.E020"]


def test_no_middleware_at_all_is_e020_e021_and_e030(settings: Any) -> None:
    settings.MIDDLEWARE = []

    assert middleware_ids() == ["dualauth.E020", "dualauth.E021", "dualauth.E030"]


def test_djangos_authentication_middleware_instead_of_dualauths_is_e021_and_e022(
    settings: Any,
) -> None:
    middleware_replace(settings, FAMILY_AUTHENTICATION, DJANGO_AUTHENTICATION)

    assert middleware_ids() == ["dualauth.E021", "dualauth.E022"]


def test_djangos_authentication_middleware_beside_dualauths_is_e022(settings: Any) -> None:
    middleware_replace(
        settings, FAMILY_AUTHENTICATION, DJANGO_AUTHENTICATION, FAMILY_AUTHENTICATION
    )

    assert middleware_ids() == ["dualauth.E022"]


def test_session_middleware_after_the_family_authentication_is_e023(settings: Any) -> None:
    middleware_replace(settings, SESSIONS)
    middleware_replace(settings, FAMILY_AUTHENTICATION, FAMILY_AUTHENTICATION, SESSIONS)

    assert middleware_ids() == ["dualauth.E023"]


def test_no_session_middleware_is_e023(settings: Any) -> None:
    middleware_replace(settings, SESSIONS)

    assert middleware_ids() == ["dualauth.E023"]


class StrictJSONParser(BoundedJSONParser):
    """A project's own JSON parser, derived from dualauth's."""


def test_the_shipped_rest_framework_settings_pass() -> None:
    assert rest_framework_check(None) == []


def test_a_parser_derived_from_the_bounded_one_passes(settings: Any) -> None:
    rest_framework_set(settings, DEFAULT_PARSER_CLASSES=[f"{__name__}.StrictJSONParser"])

    assert rest_framework_check(None) == []


def test_drfs_exception_handler_is_e024(settings: Any) -> None:
    rest_framework_set(settings, EXCEPTION_HANDLER="rest_framework.views.exception_handler")

    assert ids(rest_framework_check(None)) == ["dualauth.E024"]
    assert_fails_manage_py_check("dualauth.E024", Tags.security)


@pytest.mark.parametrize("setting", ["EXCEPTION_HANDLER", "DEFAULT_PARSER_CLASSES"])
def test_drfs_defaults_are_refused(settings: Any, setting: str) -> None:
    settings.REST_FRAMEWORK = {
        name: value for name, value in settings.REST_FRAMEWORK.items() if name != setting
    }
    expected = "dualauth.E024" if setting == "EXCEPTION_HANDLER" else "dualauth.E025"

    assert ids(rest_framework_check(None)) == [expected]


def test_a_parser_without_the_nesting_limit_is_e025(settings: Any) -> None:
    form_parser = "rest_framework.parsers.FormParser"
    rest_framework_set(
        settings, DEFAULT_PARSER_CLASSES=["common.parsers.BoundedJSONParser", form_parser]
    )
    errors = rest_framework_check(None)

    assert ids(errors) == ["dualauth.E025"]
    assert f"DEFAULT_PARSER_CLASSES'] has {form_parser}:" in errors[0].msg


def test_the_shipped_user_model_passes() -> None:
    assert user_model_check(None) == []


@pytest.mark.parametrize("field", ["handle", "profile"], ids=["absent", "reverse-relation"])
def test_a_username_field_that_is_no_field_is_e026(
    monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    monkeypatch.setattr(get_user_model(), "USERNAME_FIELD", field)

    assert ids(user_model_check(None)) == ["dualauth.E026"]


def test_an_email_field_that_is_no_field_is_e027(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_user_model(), "EMAIL_FIELD", "mail")

    assert ids(user_model_check(None)) == ["dualauth.E027"]
    assert_fails_manage_py_check("dualauth.E027", Tags.models)


@pytest.mark.parametrize(
    "make_pk",
    [
        lambda: models.BigAutoField(primary_key=True),
        lambda: models.UUIDField(primary_key=True),
        # A child of a concrete model is keyed by a relation to its parent's key.
        lambda: Permission._meta.get_field("content_type"),
    ],
    ids=["big-integer", "uuid", "relation-to-an-integer"],
)
def test_an_integer_or_uuid_primary_key_passes(
    monkeypatch: pytest.MonkeyPatch, make_pk: Any
) -> None:
    monkeypatch.setattr(get_user_model()._meta, "pk", make_pk())

    assert user_model_check(None) == []


def test_a_primary_key_neither_integer_nor_uuid_is_e028(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        get_user_model()._meta, "pk", models.CharField(primary_key=True, max_length=40)
    )

    assert ids(user_model_check(None)) == ["dualauth.E028"]


@pytest.mark.parametrize(("name", "value"), [("ISSUER", None), ("AUDIENCE", "")])
def test_a_missing_issuer_or_audience_is_e029(settings: Any, name: str, value: Any) -> None:
    simple_jwt_set(settings, **{name: value})

    assert ids(token_claims_check(None)) == ["dualauth.E029"]
    assert_fails_manage_py_check("dualauth.E029", Tags.security)


def test_no_csrf_middleware_is_e030(settings: Any) -> None:
    middleware_replace(settings, "common.middleware.BrowserCsrfViewMiddleware")

    assert middleware_ids() == ["dualauth.E030"]
    assert_fails_manage_py_check("dualauth.E030", Tags.security)


def test_the_shipped_apps_pass() -> None:
    assert installed_apps_check(None) == []


def test_an_api_without_its_schema_apps_is_e031(settings: Any) -> None:
    settings.INSTALLED_APPS = [
        app for app in settings.INSTALLED_APPS if not app.startswith("drf_spectacular")
    ]

    errors = installed_apps_check(None)
    assert ids(errors) == ["dualauth.E031"]
    assert "drf_spectacular, drf_spectacular_sidecar" in errors[0].msg


def _cluster_check(url: str, key_prefix: str = "dualauth") -> list[CheckMessage]:
    """The cluster check's messages with REDIS_URL=`url`, reverted before anything connects."""
    with override_settings(CACHES=redis_caches(url, key_prefix)):
        return cache_cluster_check(None)


def test_a_cluster_url_naming_its_nodes_passes() -> None:
    assert _cluster_check("redis+cluster://10.0.0.1:7000,10.0.0.2:7000") == []


@pytest.mark.parametrize("url", ["redis+cluster://cache", "redis+cluster://a:7000,b"])
def test_a_cluster_url_without_a_port_is_e043(url: str) -> None:
    errors = _cluster_check(url)

    assert ids(errors) == ["dualauth.E043"]
    assert "host:port" in errors[0].msg


def test_a_brace_in_the_key_prefix_of_a_cluster_is_e044() -> None:
    assert ids(_cluster_check("redis+cluster://10.0.0.1:7000", "dualauth-{eu}")) == [
        "dualauth.E044"
    ]


def test_a_brace_in_the_key_prefix_of_one_redis_is_no_error() -> None:
    assert _cluster_check("redis://10.0.0.1:6379/0", "dualauth-{eu}") == []


@pytest.mark.parametrize("poll", [timedelta(0), timedelta(seconds=-1), 0.25])
def test_a_pending_poll_that_is_no_positive_duration_is_e045(settings: Any, poll: Any) -> None:
    settings.DUALAUTH = {**settings.DUALAUTH, "CACHE_PENDING_POLL": poll}

    assert ids(cache_pending_poll_check(None)) == ["dualauth.E045"]


def test_the_default_pending_poll_passes() -> None:
    assert cache_pending_poll_check(None) == []


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://cache.example:6380/0", "redis+cluster://a:7000"]
)
def test_caches_built_from_redis_url_reach_redis_with_a_timeout_and_the_breaker(url) -> None:
    with override_settings(CACHES=redis_caches(url, "checked")):
        assert cache_hang_check(None) == []


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        ({"SOCKET_TIMEOUT": None}, "SOCKET_TIMEOUT"),
        ({"CONNECTION_POOL_CLASS": None}, "breaker"),
        ({"CONNECTION_POOL_CLASS": "redis.ConnectionPool"}, "breaker"),
        ({"CONNECTION_POOL_CLASS": "no.such.Pool"}, "breaker"),
    ],
)
def test_a_redis_cache_without_a_timeout_or_the_breaker_is_a_warning(change, missing) -> None:
    caches_settings = redis_caches("redis://127.0.0.1:6379/0", "checked")
    for alias in caches_settings.values():
        options = {**alias["OPTIONS"], **change}
        alias["OPTIONS"] = {name: value for name, value in options.items() if value is not None}

    with override_settings(CACHES=caches_settings):
        warnings = cache_hang_check(None)

    assert ids(warnings) == ["dualauth.W004", "dualauth.W004"]
    assert all(missing in str(warning.msg) for warning in warnings)


def test_a_process_fallback_of_the_throttles_is_a_deploy_warning(settings: Any) -> None:
    assert throttle_fallback_check(None) == []
    settings.DUALAUTH = {**settings.DUALAUTH, "THROTTLE_FALLBACK": "process"}
    [warning] = throttle_fallback_check(None)
    assert warning.id == "dualauth.W005"
    settings.DUALAUTH = {**settings.DUALAUTH, "ALLOW_PROCESS_LOCAL_CACHE": True}
    assert throttle_fallback_check(None) == []


def test_an_unknown_throttle_fallback_is_refused(settings: Any) -> None:
    settings.DUALAUTH = {**settings.DUALAUTH, "THROTTLE_FALLBACK": "nowhere"}
    with pytest.raises(ValueError, match="THROTTLE_FALLBACK"):
        _ = dualauth_settings.THROTTLE_FALLBACK


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "redis+cluster://a:7000"])
def test_push_on_caches_built_for_it_passes(settings: Any, url: str) -> None:
    settings.DUALAUTH = {**settings.DUALAUTH, "REVOCATION": "push"}
    settings.CACHES = redis_caches(url, "checked", push=True)

    assert push_cache_check(None) == []


def test_push_without_redis_is_e064(settings: Any) -> None:
    settings.DUALAUTH = {**settings.DUALAUTH, "REVOCATION": "push"}
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    settings.CACHES = {"default": local, CACHE_ALIAS: local}

    assert ids(push_cache_check(None)) == ["dualauth.E047"] * 2


def test_push_on_caches_built_for_strict_is_e064_and_the_other_way_round(settings: Any) -> None:
    settings.DUALAUTH = {**settings.DUALAUTH, "REVOCATION": "push"}
    settings.CACHES = redis_caches("redis://127.0.0.1:6379/0", "checked")
    assert ids(push_cache_check(None)) == ["dualauth.E047"] * 2

    settings.DUALAUTH = {**settings.DUALAUTH, "REVOCATION": "strict"}
    settings.CACHES = redis_caches("redis://127.0.0.1:6379/0", "checked", push=True)
    assert ids(push_cache_check(None)) == ["dualauth.E047"] * 2


def test_the_default_strict_level_passes() -> None:
    assert push_cache_check(None) == []
    assert push_timing_check(None) == []


@pytest.mark.parametrize(
    ("max_age", "heartbeat"),
    [
        (timedelta(seconds=61), timedelta(milliseconds=200)),
        (timedelta(0), timedelta(milliseconds=200)),
        (timedelta(seconds=30), timedelta(0)),
        (30, timedelta(milliseconds=200)),
    ],
)
def test_a_push_max_age_beyond_the_cache_ttl_or_a_heartbeat_of_no_duration_is_e065(
    settings: Any, max_age: Any, heartbeat: Any
) -> None:
    settings.DUALAUTH = {
        **settings.DUALAUTH,
        "PUSH_MAX_AGE": max_age,
        "PUSH_HEARTBEAT": heartbeat,
        "FAMILY_CACHE_TTL": timedelta(seconds=60),
    }

    assert ids(push_timing_check(None)) == ["dualauth.E048"]
