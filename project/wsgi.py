"""WSGI entry point: the application, and its cache recovery (common/cache_recovery.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_wsgi_application()

from common.cache_recovery import cache_recovery_serve  # noqa: E402  (needs the apps loaded)

cache_recovery_serve()
