"""System checks of the core: every setting it relies on is there, and usable as it relies on it.

Each feature and mode checks its own settings in its own checks.py, registered by its app.
"""

import importlib
import importlib.util
import ipaddress
import re
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models import ForeignKey, IntegerField, Model, UUIDField
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string
from drf_spectacular.settings import spectacular_settings
from rest_framework.settings import DEFAULTS as REST_FRAMEWORK_DEFAULTS

from common.conf import CACHE_ALIAS, dualauth_settings
from common.handlers import exception_handler
from common.middleware import ApiResponseMiddleware
from common.parsers import BoundedJSONParser
from common.push import PushMixin
from common.redis_breaker import BreakerPool
from common.redis_cluster import ClusterConnectionFactory, cluster_address_parse, cluster_url
from common.routes import SHARED_ROUTES, api_prefix

# A bearer token for /metrics as strong as a 192-bit random one in URL-safe base64.
MIN_METRICS_TOKEN_LENGTH = 32
# Caches that each process keeps to itself, or that keep nothing: behind several workers,
# a revocation or a failed login counted in one is unseen in the others.
PROCESS_LOCAL_CACHES = (LocMemCache, DummyCache)
# The pool that gives django-redis's connections the breaker (common/redis_breaker.py).
BREAKER_POOL = f"{BreakerPool.__module__}.{BreakerPool.__name__}"
# What makes a cache alias's store and the keys it writes, with Django's defaults: two
# aliases alike in these read and write the same entries (OPTIONS may differ).
CACHE_STORE_DEFAULTS: dict[str, Any] = {
    "BACKEND": None,
    "LOCATION": "",
    "KEY_PREFIX": "",
    "VERSION": 1,
    "KEY_FUNCTION": None,
}


@register(Tags.security, deploy=True)
def shared_cache_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a process-local cache of revocations, counters or sessions, unless allowed."""
    if dualauth_settings.ALLOW_PROCESS_LOCAL_CACHE:
        return []
    # An alias missing from CACHES is cache_store_check's error (E007).
    local = sorted(
        alias
        for alias in {CACHE_ALIAS, settings.SESSION_CACHE_ALIAS} & set(settings.CACHES)
        if isinstance(caches[alias], PROCESS_LOCAL_CACHES)
    )
    if not local:
        return []
    names, verb = " and ".join(map(repr, local)), "are" if len(local) > 1 else "is"
    return [
        Error(
            f"CACHES {names} {verb} not shared between processes: each process would keep "
            "its own revocations, sessions and failed-login counts.",
            hint="Set REDIS_URL, or run one process only and set ALLOW_PROCESS_LOCAL_CACHE=true.",
            id="dualauth.E006",
        )
    ]


@register(Tags.security, deploy=True)
def throttle_fallback_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Warn that a process fallback of the throttles multiplies their limits while Redis is down."""
    # One process allowed its own cache: its own counts are all the counts there are.
    if dualauth_settings.ALLOW_PROCESS_LOCAL_CACHE:
        return []
    if dualauth_settings.THROTTLE_FALLBACK != "process":
        return []
    return [
        Warning(
            "THROTTLE_FALLBACK is 'process': while Redis is down each serving process counts "
            "failed logins on its own, so the limits multiply by the processes serving.",
            hint="Keep THROTTLE_FALLBACK=database (the default) unless one process serves.",
            id="dualauth.W005",
        )
    ]


def _cache_store(alias: str) -> dict[str, Any]:
    """The settings that make `alias`'s store and key scheme, as written or Django's default."""
    params = settings.CACHES[alias]
    return {name: params.get(name, default) for name, default in CACHE_STORE_DEFAULTS.items()}


@register(Tags.caches)
def cache_store_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a missing shared cache, and a session cache that is another store than it."""
    session_alias = settings.SESSION_CACHE_ALIAS
    missing = {CACHE_ALIAS, session_alias} - set(settings.CACHES)
    if CACHE_ALIAS in missing:
        return [
            Error(
                f"CACHES has no {CACHE_ALIAS!r} alias: dualauth keeps its revocations, login "
                "states and failed-login counts there.",
                hint=f"Add CACHES[{CACHE_ALIAS!r}], the same store as the session cache "
                "(SESSION_CACHE_ALIAS).",
                id="dualauth.E007",
            )
        ]
    if missing:
        return [
            Error(
                f"CACHES has no {session_alias!r} alias, the session cache (SESSION_CACHE_ALIAS).",
                hint=f"Add CACHES[{session_alias!r}], the same store as CACHES[{CACHE_ALIAS!r}], "
                f"or set SESSION_CACHE_ALIAS = {CACHE_ALIAS!r}.",
                id="dualauth.E007",
            )
        ]
    shared, session = _cache_store(CACHE_ALIAS), _cache_store(session_alias)
    differing = [name for name in CACHE_STORE_DEFAULTS if shared[name] != session[name]]
    if not differing:
        return []
    return [
        Error(
            f"CACHES[{session_alias!r}] (SESSION_CACHE_ALIAS) and CACHES[{CACHE_ALIAS!r}] differ "
            f"in {', '.join(differing)}: session mode reads a session's cache entry through "
            f"{CACHE_ALIAS!r}, in the same round trip as its login's state.",
            hint=f"Give both aliases the same {', '.join(CACHE_STORE_DEFAULTS)} (OPTIONS may "
            f"differ), or set SESSION_CACHE_ALIAS = {CACHE_ALIAS!r}.",
            id="dualauth.E008",
        )
    ]


@register(Tags.security)
def cookies_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse cookies that share a name."""
    names = {
        "DUALAUTH['ACCESS_COOKIE_NAME']": dualauth_settings.ACCESS_COOKIE_NAME,
        "DUALAUTH['REFRESH_COOKIE_NAME']": dualauth_settings.REFRESH_COOKIE_NAME,
        "DUALAUTH['DEVICE_COOKIE_NAME']": dualauth_settings.DEVICE_COOKIE_NAME,
        "SESSION_COOKIE_NAME": settings.SESSION_COOKIE_NAME,
        "CSRF_COOKIE_NAME": settings.CSRF_COOKIE_NAME,
    }
    holders: dict[str, list[str]] = {}
    for setting, name in names.items():
        holders.setdefault(name, []).append(setting)
    return [
        Error(
            f"{' and '.join(clashing)} are all {name!r}: each cookie would overwrite the other.",
            hint="Give each of these cookies a name of its own.",
            id="dualauth.E014",
        )
        for name, clashing in holders.items()
        if len(clashing) > 1
    ]


@register(Tags.urls)
def api_urls_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a project without dualauth's URLs; warn when CORS misses them."""
    try:
        prefix = api_prefix()
    except ImproperlyConfigured:
        return [
            Error(
                "dualauth's URLs are not in ROOT_URLCONF under the 'dualauth' namespace: "
                "'dualauth:health' does not reverse.",
                hint=f'Add path("api/", include("common.urls")) (or another prefix) to the '
                f"urlpatterns of {settings.ROOT_URLCONF}.",
                id="dualauth.E018",
            )
        ]
    cors_regex = getattr(settings, "CORS_URLS_REGEX", None)
    profile = prefix + SHARED_ROUTES["profile"]
    if cors_regex is None or _matches(cors_regex, profile):
        return []
    return [
        Warning(
            f"CORS_URLS_REGEX {cors_regex!r} does not match {profile!r}: the origins of "
            "CORS_ALLOWED_ORIGINS could not call the API.",
            hint=f'Set CORS_URLS_REGEX = r"^{prefix}.*$", where dualauth\'s URLs are.',
            id="dualauth.W001",
        )
    ]


def _matches(regex: Any, path: str) -> bool:
    """Whether `regex` matches `path` as django-cors-headers matches it; never if it is broken."""
    try:
        return re.match(regex, path) is not None
    except (re.error, TypeError):
        return False


def setting_imported(value: Any) -> Any:
    """What a setting's dotted path names (a class given as such is itself), or None."""
    if not isinstance(value, str):
        return value
    try:
        return import_string(value)
    except ImportError:
        return None


def is_subclass(value: Any, base: type) -> bool:
    """Whether `value` is `base` or a class derived from it."""
    return isinstance(value, type) and issubclass(value, base)


@register(Tags.security)
def middleware_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse MIDDLEWARE without dualauth's API answers first, with Django's own authentication
    middleware, or without CSRF; the session mode checks its own (session_auth/checks.py).
    """
    classes = [setting_imported(entry) for entry in settings.MIDDLEWARE]
    errors: list[CheckMessage] = []
    if not classes or not is_subclass(classes[0], ApiResponseMiddleware):
        errors.append(
            Error(
                "common.middleware.ApiResponseMiddleware is not the first entry of MIDDLEWARE: "
                "what the middleware before it answers under the API would be cacheable, and "
                "could be HTML.",
                hint='Put "common.middleware.ApiResponseMiddleware" first in MIDDLEWARE.',
                id="dualauth.E020",
            )
        )
    if AuthenticationMiddleware in classes:
        errors.append(
            Error(
                "MIDDLEWARE has django.contrib.auth.middleware.AuthenticationMiddleware: a "
                "session that is not a live login family would authenticate the admin and "
                "every view.",
                hint='Replace it with "session_auth.middleware.FamilyAuthenticationMiddleware".',
                id="dualauth.E022",
            )
        )
    if not any(is_subclass(cls, CsrfViewMiddleware) for cls in classes):
        errors.append(
            Error(
                "MIDDLEWARE has no django.middleware.csrf.CsrfViewMiddleware: no csrftoken "
                "cookie is ever set, so no browser mode can log in.",
                hint='Add "django.middleware.csrf.CsrfViewMiddleware" to MIDDLEWARE.',
                id="dualauth.E030",
            )
        )
    return errors


@register(Tags.security)
def rest_framework_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse another exception handler than dualauth's, and a JSON parser without its bound."""
    rest_framework = {**REST_FRAMEWORK_DEFAULTS, **getattr(settings, "REST_FRAMEWORK", {})}
    errors: list[CheckMessage] = []
    if setting_imported(rest_framework["EXCEPTION_HANDLER"]) is not exception_handler:
        errors.append(
            Error(
                f"REST_FRAMEWORK['EXCEPTION_HANDLER'] is {rest_framework['EXCEPTION_HANDLER']!r}"
                ': errors would not all be {"detail", "code"}, and some could be HTML.',
                hint='Set REST_FRAMEWORK["EXCEPTION_HANDLER"] = '
                '"common.handlers.exception_handler".',
                id="dualauth.E024",
            )
        )
    unbounded = [
        entry
        for entry in rest_framework["DEFAULT_PARSER_CLASSES"]
        if not is_subclass(setting_imported(entry), BoundedJSONParser)
    ]
    if unbounded:
        errors.append(
            Error(
                f"REST_FRAMEWORK['DEFAULT_PARSER_CLASSES'] has {', '.join(map(str, unbounded))}: "
                "only common.parsers.BoundedJSONParser limits how deeply a body may nest.",
                hint='Set REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = '
                '["common.parsers.BoundedJSONParser"], or subclasses of it.',
                id="dualauth.E025",
            )
        )
    return errors


def _names_field(model: type[Model], name: Any) -> bool:
    """Whether `name` is a field of `model` that has a column, not a reverse relation."""
    try:
        return bool(getattr(model._meta.get_field(name), "concrete", False))
    except FieldDoesNotExist:
        return False


@register(Tags.models)
def user_model_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a user model without the username and email the profile shows, or an odd key."""
    user_model = get_user_model()
    label = user_model._meta.label
    errors: list[CheckMessage] = []
    username = getattr(user_model, "USERNAME_FIELD", None)
    if not _names_field(user_model, username):
        errors.append(
            Error(
                f"{label}.USERNAME_FIELD {username!r} is not a field of {label}: the profile "
                "shows the user's username.",
                hint=f"Set USERNAME_FIELD on {label} to the name of one of its fields.",
                id="dualauth.E026",
            )
        )
    email = user_model.get_email_field_name()
    if not _names_field(user_model, email):
        errors.append(
            Error(
                f"{label}'s email field {email!r} is not a field of {label}: the profile shows "
                "the user's email.",
                hint=f"Set EMAIL_FIELD on {label} to the name of its email field.",
                id="dualauth.E027",
            )
        )
    pk = user_model._meta.pk
    # A child of a concrete model is keyed by its parent's key, through a one-to-one field.
    while isinstance(pk, ForeignKey):
        pk = pk.target_field
    if not isinstance(pk, IntegerField | UUIDField):
        errors.append(
            Error(
                f"{label}'s primary key is a {type(pk).__name__}: dualauth writes the user's "
                "id into tokens and sessions as text, and reads it back, for integer and UUID "
                "keys only.",
                hint=f"Give {label} an integer (AutoField, BigAutoField) or UUIDField primary key.",
                id="dualauth.E028",
            )
        )
    return errors


# The apps whose templates and static files the API's `schema/` and `docs/` serve.
SCHEMA_APPS = ("rest_framework", "drf_spectacular")
# Where the Swagger UI's files come from with SWAGGER_UI_DIST = "SIDECAR": no CDN.
SIDECAR_APP = "drf_spectacular_sidecar"


@register(Tags.compatibility)
def installed_apps_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse INSTALLED_APPS without the apps behind the API's schema and docs."""
    needed = [*SCHEMA_APPS]
    if spectacular_settings.SWAGGER_UI_DIST == "SIDECAR":
        needed.append(SIDECAR_APP)
    missing = [name for name in needed if not apps.is_installed(name)]
    if not missing:
        return []
    return [
        Error(
            f"INSTALLED_APPS lacks {', '.join(missing)}: the API's schema/ and docs/ "
            "endpoints would fail.",
            hint="Add " + ", ".join(f'"{name}"' for name in missing) + " to INSTALLED_APPS.",
            id="dualauth.E031",
        )
    ]


@register(Tags.security)
def metrics_access_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a guessable METRICS_TOKEN, and METRICS_ALLOWED_NETWORKS that are not networks."""
    errors: list[CheckMessage] = []
    token = dualauth_settings.METRICS_TOKEN
    if token and len(token) < MIN_METRICS_TOKEN_LENGTH:
        errors.append(
            Error(
                f"METRICS_TOKEN is shorter than {MIN_METRICS_TOKEN_LENGTH} characters.",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(32))'",
                id="dualauth.E041",
            )
        )
    for network in dualauth_settings.METRICS_ALLOWED_NETWORKS:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"METRICS_ALLOWED_NETWORKS has {network!r}, which is not an address or a "
                    "network (CIDR).",
                    id="dualauth.E042",
                )
            )
    return errors


@register(Tags.compatibility)
def database_pool_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a connection pool (DATABASE_POOL) that Django cannot open."""
    errors: list[CheckMessage] = []
    for alias, database in settings.DATABASES.items():
        if not database.get("OPTIONS", {}).get("pool"):
            continue
        if database["ENGINE"] != "django.db.backends.postgresql":
            errors.append(
                Error(
                    f"DATABASES[{alias!r}] asks for a connection pool (DATABASE_POOL), which "
                    f"only PostgreSQL has; its engine is {database['ENGINE']}.",
                    hint="Set DATABASE_URL to a PostgreSQL database, or DATABASE_POOL=false.",
                    id="dualauth.E039",
                )
            )
        elif importlib.util.find_spec("psycopg_pool") is None:
            errors.append(
                Error(
                    f"DATABASES[{alias!r}] asks for a connection pool (DATABASE_POOL), but "
                    "psycopg_pool is not installed.",
                    hint="Install psycopg[pool].",
                    id="dualauth.E040",
                )
            )
    return errors


@register(Tags.caches)
def cache_cluster_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a Redis Cluster URL that names no node, or a key prefix that would split a login."""
    if CACHE_ALIAS not in settings.CACHES:
        return []
    params = settings.CACHES[CACHE_ALIAS]
    location = params.get("LOCATION", "")
    urls = [location] if isinstance(location, str) else list(location)
    errors: list[CheckMessage] = []
    for url in filter(cluster_url, urls):
        try:
            cluster_address_parse(url)
        except ValueError as e:
            errors.append(
                Error(
                    f"REDIS_URL names a Redis Cluster but {e}.",
                    hint="Write redis+cluster://[user:password@]host:port[,host:port...] "
                    "(rediss+cluster:// for TLS).",
                    id="dualauth.E043",
                )
            )
        if {"{", "}"} & set(str(params.get("KEY_PREFIX", ""))):
            errors.append(
                Error(
                    "CACHE_KEY_PREFIX holds a brace: Redis Cluster would place keys by the "
                    "prefix, not by each user's hash tag.",
                    hint="Remove { and } from CACHE_KEY_PREFIX.",
                    id="dualauth.E044",
                )
            )
    return errors


@register(Tags.caches)
def cache_hang_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Warn of a Redis cache through which a Redis that hangs would hold every request."""
    warnings: list[CheckMessage] = []
    for alias in sorted({CACHE_ALIAS, settings.SESSION_CACHE_ALIAS} & set(settings.CACHES)):
        params = settings.CACHES[alias]
        if not str(params.get("BACKEND", "")).startswith("django_redis."):
            continue
        options = params.get("OPTIONS", {})
        missing = [] if options.get("SOCKET_TIMEOUT") else ["a SOCKET_TIMEOUT"]
        if not _breaker_used(options):
            missing.append(f"the breaker ({BREAKER_POOL})")
        if missing:
            warnings.append(
                Warning(
                    f"CACHES[{alias!r}] reaches Redis without {' or '.join(missing)}: a Redis "
                    "that hangs would hold each request for every command it sends there.",
                    hint=f'Set OPTIONS "SOCKET_TIMEOUT" (0.25 s as REDIS_URL does) and '
                    f'"CONNECTION_POOL_CLASS": "{BREAKER_POOL}", or build CACHES with '
                    "project.settings.redis_caches().",
                    id="dualauth.W004",
                )
            )
    return warnings


def _breaker_used(options: dict[str, Any]) -> bool:
    """Whether a django-redis cache with `options` reaches Redis through the breaker."""
    # A cluster's node pools are made by its connection factory, with the breaker.
    made = (
        (options.get("CONNECTION_FACTORY"), ClusterConnectionFactory),
        (options.get("CONNECTION_POOL_CLASS"), BreakerPool),
    )
    return any(path and _imports_subclass(str(path), kind) for path, kind in made)


def _imports_subclass(path: str, kind: type) -> bool:
    """Whether `path` imports a subclass of `kind`."""
    try:
        imported = import_string(path)
    except ImportError:
        return False
    return isinstance(imported, type) and issubclass(imported, kind)


@register(Tags.caches)
def cache_pending_poll_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a poll for revocations pending in the cache that is not a positive duration."""
    poll = dualauth_settings.CACHE_PENDING_POLL
    if isinstance(poll, timedelta) and poll > timedelta(0):
        return []
    return [
        Error(
            f"DUALAUTH['CACHE_PENDING_POLL'] is {poll!r}: each serving process looks this often "
            "for revocations the cache has not taken.",
            hint="A timedelta above zero (250 ms by default): it bounds how long an instance "
            "may vouch for a login revoked by one that could not reach the cache.",
            id="dualauth.E045",
        )
    ]


@register(Tags.caches)
def push_cache_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a revocation level its caches do not carry out: `push` needs the push client on
    Redis for the revocation state and the sessions, and only `push` may use it.
    """
    push = dualauth_settings.REVOCATION == "push"
    errors: list[CheckMessage] = []
    for alias in sorted({CACHE_ALIAS, settings.SESSION_CACHE_ALIAS} & set(settings.CACHES)):
        params = settings.CACHES[alias]
        client = str(params.get("OPTIONS", {}).get("CLIENT_CLASS", ""))
        pushed = str(params.get("BACKEND", "")).startswith("django_redis.") and bool(
            client and _imports_subclass(client, PushMixin)
        )
        if pushed != push:
            errors.append(
                Error(
                    f"DUALAUTH['REVOCATION'] is {dualauth_settings.REVOCATION!r} but "
                    f"CACHES[{alias!r}] {'does not reach' if push else 'reaches'} Redis "
                    "through the push client: "
                    + (
                        "no process would learn of another's writes."
                        if push
                        else "it would keep entries in memory that `strict` reads each time."
                    ),
                    hint="Set REDIS_URL (push needs Redis), or build CACHES with "
                    "project.settings.redis_caches(url, prefix, push=...) matching REVOCATION.",
                    id="dualauth.E064",
                )
            )
    return errors


@register(Tags.caches)
def push_timing_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a push heartbeat or maximum age that is not a positive duration, or a maximum
    age beyond FAMILY_CACHE_TTL.
    """
    max_age, heartbeat = dualauth_settings.PUSH_MAX_AGE, dualauth_settings.PUSH_HEARTBEAT
    ttl = dualauth_settings.FAMILY_CACHE_TTL
    if (
        isinstance(max_age, timedelta)
        and isinstance(heartbeat, timedelta)
        and timedelta(0) < max_age <= ttl
        and heartbeat > timedelta(0)
    ):
        return []
    return [
        Error(
            f"DUALAUTH['PUSH_MAX_AGE'] is {max_age!r} and DUALAUTH['PUSH_HEARTBEAT'] "
            f"{heartbeat!r}: both must be timedeltas above zero, and the maximum age at most "
            f"FAMILY_CACHE_TTL ({ttl!r}), which the cache entries themselves live.",
            hint="PUSH_MAX_AGE 30 s and PUSH_HEARTBEAT 200 ms by default.",
            id="dualauth.E065",
        )
    ]
