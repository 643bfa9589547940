"""The stock project with Django's `cache` sessions (Redis): a logout deletes the entry."""

from bench.stock.settings import *  # noqa: F403

SESSION_ENGINE = "django.contrib.sessions.backends.cache"
