"""ASGI entry point: the application, and the process's cache recovery (common/cache.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_asgi_application()

from common.cache import cache_recovery_serve  # noqa: E402  (needs the apps loaded)

cache_recovery_serve()
