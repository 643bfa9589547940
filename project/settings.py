"""Django settings for dualauth: the one place that reads the environment.

Every variable is optional on a developer's machine: without DATABASE_URL the
project runs on SQLite, without REDIS_URL on an in-process cache. `make run`
writes SECRET_KEY and JWT_SIGNING_KEY once into a git-ignored `.env`.
"""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

load_dotenv(BASE_DIR / ".env", override=False)


def env_str(name: str, default: str = "") -> str:
    """Return the environment variable `name`, or `default` when unset or empty."""
    return os.environ.get(name, "").strip() or default


def env_bool(name: str, default: bool = False) -> bool:
    """Return the environment variable `name` read as a boolean."""
    value = env_str(name)
    if not value:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Return the comma-separated environment variable `name` as a list."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_seconds(name: str) -> timedelta | None:
    """Return the environment variable `name`, a number of seconds, as a timedelta."""
    value = env_str(name)
    return timedelta(seconds=float(value)) if value else None


def env_file_or_value(name: str) -> str:
    """Return `<name>_FILE`'s content when set, else `<name>` itself."""
    path = env_str(f"{name}_FILE")
    return Path(path).read_text() if path else env_str(name)


def provider_settings(name: str) -> dict[str, object]:
    """The external provider `name`'s settings from `PROVIDER_<NAME>_*` (set ones only)."""
    prefix = "PROVIDER_" + name.upper().replace("-", "_") + "_"
    values = {
        "issuer": env_str(prefix + "ISSUER"),
        "client_id": env_str(prefix + "CLIENT_ID"),
        "client_secret": env_file_or_value(prefix + "CLIENT_SECRET").strip(),
        "audiences": env_list(prefix + "AUDIENCES"),
        "name": env_str(prefix + "NAME"),
    }
    return {key: value for key, value in values.items() if value}


DEBUG = env_bool("DEBUG")
HTTPS = env_bool("HTTPS")

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is not set: run `make run` once, or export it.")

# The Django admin is served only where asked for, and by default only in development.
# Where it is served, its logins are session families like any other (session_auth/admin.py).
ADMIN_ENABLED = env_bool("ADMIN_ENABLED", DEBUG)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_ALLOW_CREDENTIALS = True
# Where project/urls.py mounts dualauth's URLs: CORS covers them (W001 says when it misses them).
CORS_URLS_REGEX = r"^/api/.*$"

INSTALLED_APPS = [
    "session_auth.apps.FamilyAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "common",
    "common.accounts",
    "common.mfa",
    "common.providers",
    "session_auth",
    "jwt_auth",
]

MIDDLEWARE = [
    # Outermost, so that the answers of the middleware below (a CORS preflight, a refused
    # Host) are never cached and JSON too; Django still calls it on a view's exception.
    "common.middleware.ApiResponseMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # Django's sessions and, below, its CSRF cookie: the token client's endpoints pass both
    # by, as they have neither.
    "session_auth.middleware.BrowserSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "common.middleware.BrowserCsrfViewMiddleware",
    # `request.user` and messages for the admin: requests under the API prefix pass them by.
    "session_auth.middleware.FamilyAuthenticationMiddleware",
    "project.middleware.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Django's psycopg pool: a worker's threads share a few connections instead of each
# keeping its own open (PostgreSQL only: common/checks.py refuses it elsewhere).
DATABASE_POOL = env_bool("DATABASE_POOL")
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Django refuses persistent connections with a pool: the pool keeps them instead.
        conn_max_age=0 if DATABASE_POOL else 600,
        # With a pool, the pool checks a connection each time it lends it.
        conn_health_checks=True,
        # A server-side cursor lives in the connection's session, which a pool (this one, or
        # PgBouncer in transaction mode) hands to another request or transaction.
        disable_server_side_cursors=DATABASE_POOL
        or not env_bool("DATABASE_SERVER_SIDE_CURSORS", True),
    )
}
DATABASE_TIMEOUT = int(env_str("DATABASE_TIMEOUT", "3"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable server fails a request (503) in seconds instead of hanging a worker:
    # a bounded connect, and a connection dropped once sent data goes unacknowledged.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        connect_timeout=DATABASE_TIMEOUT, tcp_user_timeout=DATABASE_TIMEOUT * 1000
    )
if DATABASE_POOL:
    # A request thread holds one connection at most, so gunicorn's threads per worker are
    # enough; a request that finds them all lent fails (503) after DATABASE_TIMEOUT.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(env_str("DATABASE_POOL_MIN_SIZE", "2")),
        "max_size": int(env_str("DATABASE_POOL_MAX_SIZE", env_str("GUNICORN_THREADS", "4"))),
        "timeout": DATABASE_TIMEOUT,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a test can serve its database from a real server process.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
    # runserver answers a browser's parallel requests in threads: a transaction takes the
    # write lock when it starts, since one that reads first and writes later fails at once
    # ("database is locked", a 503) while another writes; a lock held is waited for.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE", timeout=DATABASE_TIMEOUT
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")


def cache_key_prefix(deployment: str) -> str:
    """The prefix of this process's cache keys under the CACHE_KEY_PREFIX `deployment`."""
    # A pytest-xdist worker's keys are its own: each clears them between its tests.
    worker = env_str("PYTEST_XDIST_WORKER")
    return "-".join(part for part in ("dualauth", deployment, worker) if part)


CACHE_KEY_PREFIX = cache_key_prefix(env_str("CACHE_KEY_PREFIX"))


def redis_caches(url: str, key_prefix: str, *, push: bool = False) -> dict[str, dict[str, Any]]:
    """The cache aliases on the Redis, or the Redis Cluster (`redis+cluster://`), at `url`;
    `push`: with the client of the `push` revocation level (common/push.py).
    """
    shared: dict[str, Any] = {
        "BACKEND": "django_redis.cache.RedisCache",
        # In a list: django-redis reads commas in a string as replicas, a cluster's as seeds.
        "LOCATION": [url],
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 0.25,
            "SOCKET_TIMEOUT": 0.25,
            # After a command fails, the next fail at once (common/redis_breaker.py).
            "CONNECTION_POOL_CLASS": "common.redis_breaker.BreakerPool",
        },
    }
    # Imported here: only a project on Redis needs the Redis client.
    from common.redis_cluster import cluster_url

    if cluster_url(url):
        # redis-py's RedisCluster under django-redis (common/redis_cluster.py).
        shared["OPTIONS"] |= {
            "CLIENT_CLASS": "common.push.PushClusterClient"
            if push
            else "common.redis_cluster.ClusterClient",
            "CONNECTION_FACTORY": "common.redis_cluster.ClusterConnectionFactory",
        }
    elif push:
        shared["OPTIONS"]["CLIENT_CLASS"] = "common.push.PushClient"
    return {
        # Sessions (cached_db) fall back to the database when Redis fails.
        "default": {**shared, "OPTIONS": {**shared["OPTIONS"], "IGNORE_EXCEPTIONS": True}},
        # Revocation state and throttle counters see every failure (common/cache.py).
        "dualauth": shared,
    }


# How soon other processes refuse a revocation: "strict" or "push" (common/conf.py).
REVOCATION = env_str("REVOCATION", "strict")
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = redis_caches(REDIS_URL, CACHE_KEY_PREFIX, push=REVOCATION == "push")
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    LOCAL_CACHE: dict[str, Any] = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "dualauth",
        "KEY_PREFIX": CACHE_KEY_PREFIX,
    }
    CACHES = {"default": LOCAL_CACHE, "dualauth": LOCAL_CACHE}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env_list("PASSWORD_HASHERS"):
    PASSWORD_HASHERS = env_list("PASSWORD_HASHERS")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [("spa", BASE_DIR / "clients" / "spa")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Django's cached_db, storing a keyed hash of each session key, never the key itself.
SESSION_ENGINE = "session_auth.sessions"
SESSION_COOKIE_NAME = "sessionid"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_NAME = "csrftoken"
CSRF_COOKIE_HTTPONLY = False
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True

DUALAUTH = {
    key: value
    for key, value in {
        "TRUSTED_PROXIES": env_list("TRUSTED_PROXIES"),
        "COOKIE_SECURE": HTTPS,
        "REFRESH_GRACE_PERIOD": env_seconds("REFRESH_GRACE_SECONDS"),
        "FAMILY_LIFETIME": env_seconds("FAMILY_LIFETIME"),
        "SESSION_IDLE_TIMEOUT": env_seconds("SESSION_IDLE_TIMEOUT"),
        "SESSION_ABSOLUTE_TIMEOUT": env_seconds("SESSION_ABSOLUTE_TIMEOUT"),
        "LOGIN_FAILURES_PER_USERNAME": env_str("LOGIN_FAILURES_PER_USERNAME"),
        "LOGIN_FAILURES_PER_ADDRESS": env_str("LOGIN_FAILURES_PER_ADDRESS"),
        "LOGIN_FAILURES_PER_DEVICE": env_str("LOGIN_FAILURES_PER_DEVICE"),
        "LOGIN_FAILURE_WINDOW": env_seconds("LOGIN_FAILURE_WINDOW"),
        "THROTTLE_FALLBACK": env_str("THROTTLE_FALLBACK"),
        "REVOCATION": REVOCATION,
        "PUSH_MAX_AGE": env_seconds("PUSH_MAX_AGE"),
        "PUSH_HEARTBEAT": env_seconds("PUSH_HEARTBEAT"),
        "JWT_PREVIOUS_KEYS": env_file_or_value("JWT_PREVIOUS_KEYS"),
        "ALLOW_PROCESS_LOCAL_CACHE": env_bool("ALLOW_PROCESS_LOCAL_CACHE") or None,
        "EMAIL_VERIFICATION": env_str("EMAIL_VERIFICATION"),
        "VERIFICATION_KEY_LIFETIME": env_seconds("VERIFICATION_KEY_LIFETIME"),
        "RESET_KEY_LIFETIME": env_seconds("RESET_KEY_LIFETIME"),
        "UNDO_LIFETIME": env_seconds("UNDO_LIFETIME"),
        "FRONTEND_URL": env_str("FRONTEND_URL"),
        "REAUTH_WINDOW": env_seconds("REAUTH_WINDOW"),
        "ACCOUNT_REQUESTS_PER_ADDRESS": env_str("ACCOUNT_REQUESTS_PER_ADDRESS"),
        "ACCOUNT_MAILS_PER_EMAIL": env_str("ACCOUNT_MAILS_PER_EMAIL"),
        "ACCOUNT_THROTTLE_WINDOW": env_seconds("ACCOUNT_THROTTLE_WINDOW"),
        "MFA_ENCRYPTION_KEYS": [
            key.strip() for key in env_file_or_value("MFA_ENCRYPTION_KEY").split(",") if key.strip()
        ],
        "MFA_TOKEN_LIFETIME": env_seconds("MFA_TOKEN_LIFETIME"),
        "TOTP_ISSUER": env_str("TOTP_ISSUER"),
        "WEBAUTHN_RP_ID": env_str("WEBAUTHN_RP_ID"),
        "WEBAUTHN_RP_NAME": env_str("WEBAUTHN_RP_NAME"),
        "WEBAUTHN_ORIGINS": env_list("WEBAUTHN_ORIGINS"),
        "METRICS_ALLOWED_NETWORKS": env_list("METRICS_ALLOWED_NETWORKS"),
        "METRICS_TOKEN": env_file_or_value("METRICS_TOKEN").strip(),
        "DPOP": env_str("DPOP"),
        "DPOP_ALGORITHMS": env_list("DPOP_ALGORITHMS"),
        "DPOP_IAT_LEEWAY": env_seconds("DPOP_IAT_LEEWAY"),
        "DPOP_NONCE": env_bool("DPOP_NONCE") or None,
        "DPOP_NONCE_LIFETIME": env_seconds("DPOP_NONCE_LIFETIME"),
        "PROVIDERS": {name: provider_settings(name) for name in env_list("PROVIDERS")},
        "PROVIDER_AUTO_LINK": env_bool("PROVIDER_AUTO_LINK") or None,
        "PROVIDER_MFA_TRUSTED": env_list("PROVIDER_MFA_TRUSTED"),
        "PROVIDER_LEEWAY": env_seconds("PROVIDER_LEEWAY"),
        "PROVIDER_NONCE_LIFETIME": env_seconds("PROVIDER_NONCE_LIFETIME"),
        "PROVIDER_STATE_LIFETIME": env_seconds("PROVIDER_STATE_LIFETIME"),
        "PROVIDER_JWKS_LIFETIME": env_seconds("PROVIDER_JWKS_LIFETIME"),
        "PROVIDER_JWKS_COOLDOWN": env_seconds("PROVIDER_JWKS_COOLDOWN"),
        "PROVIDER_HTTP_TIMEOUT": env_seconds("PROVIDER_HTTP_TIMEOUT"),
    }.items()
    if value not in (None, "", [])
}

SIMPLE_JWT = {
    "ALGORITHM": env_str("JWT_ALGORITHM", "HS256"),
    "SIGNING_KEY": env_file_or_value("JWT_SIGNING_KEY"),
    "ISSUER": env_str("JWT_ISSUER", "dualauth"),
    "AUDIENCE": env_str("JWT_AUDIENCE", "dualauth-api"),
    "ACCESS_TOKEN_LIFETIME": env_seconds("ACCESS_TOKEN_LIFETIME") or timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": env_seconds("REFRESH_TOKEN_LIFETIME") or timedelta(days=1),
    "USER_ID_CLAIM": "sub",
    "UPDATE_LAST_LOGIN": False,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["common.authentication.ResolverAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "common.handlers.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "common.schema.ContractSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "dualauth",
    "DESCRIPTION": (
        "One profile resource served to browsers with session cookies and to mobile apps "
        'with JWTs. Every error is `{"detail", "code"}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Account mail: SMTP when EMAIL_HOST is set, else the console, so that `make run` shows the links.
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(env_str("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_file_or_value("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
    # A server that does not answer fails the try (and the next is scheduled), never hangs it.
    EMAIL_TIMEOUT = int(env_str("EMAIL_TIMEOUT", "10"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "dualauth <noreply@localhost>")

# Where account mail waits to be sent: `immediate`, sent by the request that made it (make
# run); `database`, a table that `manage.py db_worker` sends from, so that a web process that
# dies loses none (production: common/accounts/checks.py refuses `immediate` there, E046).
TASK_BACKENDS = {
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
}
TASK_BACKEND = env_str("TASK_BACKEND", "immediate")
if TASK_BACKEND not in TASK_BACKENDS:
    raise ImproperlyConfigured(f"TASK_BACKEND must be one of {', '.join(TASK_BACKENDS)}.")
TASKS = {"default": {"BACKEND": TASK_BACKENDS[TASK_BACKEND]}}

# The account `make run` creates and prints.
DEMO_ACCOUNT = {"username": env_str("DEMO_USERNAME", "demo"), "password": env_str("DEMO_PASSWORD")}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "common.audit.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    "loggers": {
        "dualauth.audit": {
            "handlers": ["console"],
            "level": env_str("AUDIT_LOG_LEVEL", "INFO"),
            "propagate": False,
        },
    },
}
