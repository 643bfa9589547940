"""The adopting project's WSGI application, as gunicorn serves it, with the cache recovery."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.adoption.settings")
application = get_wsgi_application()

from common.cache_recovery import cache_recovery_serve  # noqa: E402  (needs the apps loaded)

cache_recovery_serve()
