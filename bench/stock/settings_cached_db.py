"""The stock project with Django's `cached_db` sessions: Redis in front of the database."""

from bench.stock.settings import *  # noqa: F403

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
