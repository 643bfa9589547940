"""ASGI entry point: the application, and its cache recovery (common/cache_recovery.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_asgi_application()

from common.cache_recovery import cache_recovery_serve  # noqa: E402  (needs the apps loaded)

cache_recovery_serve()
