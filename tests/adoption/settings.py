"""Settings of a minimal project that adopts dualauth: its own user model, dualauth under /auth/v1/.

Only what dualauth needs besides Django's own; the test that serves the project passes its
secrets, its SQLite file and its cache (REDIS_URL, or none) in the environment.
"""

import os

SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.adoption.urls"
WSGI_APPLICATION = "tests.adoption.wsgi.application"

INSTALLED_APPS = [
    # In place of "django.contrib.admin": the admin's logins are login families too.
    "session_auth.apps.FamilyAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    # The admin's.
    "django.contrib.messages",
    "rest_framework",
    # Its templates serve the API documentation.
    "drf_spectacular",
    # Account mail is queued in the database and sent by `manage.py db_worker`.
    "django_tasks",
    "django_tasks_db",
    "tests.custom_user",
    "common",
    "common.accounts",
    "common.mfa",
    "common.providers",
    "session_auth",
    "jwt_auth",
]
AUTH_USER_MODEL = "custom_user.User"

MIDDLEWARE = [
    # Outermost: every answer under the API prefix is JSON and never cached.
    "common.middleware.ApiResponseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Refuses a Host outside ALLOWED_HOSTS (nothing else asks for the host before a view).
    "django.middleware.common.CommonMiddleware",
    # Sets the csrftoken cookie that the browser modes send back as X-CSRFToken.
    "django.middleware.csrf.CsrfViewMiddleware",
    # In place of Django's AuthenticationMiddleware: only a live login's session is believed.
    "session_auth.middleware.FamilyAuthenticationMiddleware",
    # The admin's.
    "django.contrib.messages.middleware.MessageMiddleware",
]

# The API documentation's and the admin's.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["SQLITE_PATH"]},
}

# Sessions, revocations and failed-login counts shared by every process of the project.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    REDIS_CACHE = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ["CACHE_KEY_PREFIX"],
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 0.25,
            "SOCKET_TIMEOUT": 0.25,
            "CONNECTION_POOL_CLASS": "common.redis_breaker.BreakerPool",
        },
    }
    CACHES = {"default": REDIS_CACHE, "dualauth": REDIS_CACHE}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CACHES["dualauth"] = CACHES["default"]

# Account mail, to the SMTP server the test runs.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))

# Queued in the database: a web process that dies loses no mail (dualauth.E046).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Django's cached_db sessions, stored under a hash of their key.
SESSION_ENGINE = "session_auth.sessions"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["common.authentication.ResolverAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "common.handlers.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# Every token carries and is checked for its issuer and audience.
SIMPLE_JWT = {
    "SIGNING_KEY": os.environ["JWT_SIGNING_KEY"],
    "ISSUER": "adoption",
    "AUDIENCE": "adoption-api",
}

DUALAUTH = {
    # Without Redis the project runs as one process, which may keep the cache to itself.
    "ALLOW_PROCESS_LOCAL_CACHE": not REDIS_URL,
    # Where its account mails link: its own SPA, wherever that is served.
    "FRONTEND_URL": "https://app.adoption.example/welcome",
}
