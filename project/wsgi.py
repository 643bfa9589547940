"""WSGI entry point: the application, and the process's cache recovery (common/cache.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_wsgi_application()

from common.cache import cache_recovery_serve  # noqa: E402  (needs the apps loaded)

cache_recovery_serve()
