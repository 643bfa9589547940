"""Django's middleware as the project runs them: outside the API only where they serve no API
request (common/middleware.py).
"""

from django.contrib.messages.middleware import MessageMiddleware

from common.middleware import OutsideApiMiddleware


class BrowserMessageMiddleware(OutsideApiMiddleware, MessageMiddleware):
    """Django's messages, for the admin: no API view reads or writes one."""
