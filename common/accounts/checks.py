"""System checks of the accounts' settings: where their mail goes, and how it leaves."""

import re
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks.backends.dummy import DummyBackend

from common.conf import dualauth_settings

# Backends that keep mail in the process or write it out where logs go: account mail, and
# the keys in it, must leave by SMTP (or another real transport) in production.
LOCAL_EMAIL_BACKENDS = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
)


@register(Tags.security, deploy=True)
def account_mail_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse account mail that never leaves the server, and links built from any Host."""
    errors: list[CheckMessage] = []
    if settings.EMAIL_BACKEND in LOCAL_EMAIL_BACKENDS:
        errors.append(
            Error(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: account mail (verification and "
                "reset keys) would reach no one, and the console's copy would put its keys in "
                "the logs.",
                hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, "
                "EMAIL_USE_TLS) to an SMTP server.",
                id="dualauth.E032",
            )
        )
    if not dualauth_settings.FRONTEND_URL and (not settings.DEBUG or "*" in settings.ALLOWED_HOSTS):
        errors.append(
            Error(
                "FRONTEND_URL is unset: the links of account mails, a reset key's included, "
                "would point at whatever host (and port) a request's Host header names.",
                hint="Set FRONTEND_URL to the SPA's address, like https://app.example.com/.",
                id="dualauth.E033",
            )
        )
    return errors


@register(Tags.compatibility)
def frontend_url_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a FRONTEND_URL that is not an absolute http(s) address."""
    url = dualauth_settings.FRONTEND_URL
    if not url or re.match(r"^https?://[^/?#\s]+", url):
        return []
    return [
        Error(
            f"FRONTEND_URL {url!r} is not an absolute http(s) URL: account mails link to it.",
            hint="Set FRONTEND_URL like https://app.example.com/ (a path and query may follow).",
            id="dualauth.E034",
        )
    ]


@register(Tags.security, deploy=True)
def mail_queue_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a task backend that keeps account mail in the web process, or throws it away."""
    # Account mail is queued on the default backend (common/accounts/mail.py).
    backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    if backend.supports_defer and not isinstance(backend, DummyBackend):
        return []
    return [
        Error(
            f"The task backend {DEFAULT_TASK_BACKEND_ALIAS!r} is {type(backend).__name__}: account "
            "mail (an undo link, a reset key) would be sent inside the web process that made "
            "it, and lost with it if it dies, or never sent at all.",
            hint="Set TASK_BACKEND=database (TASKS: django_tasks_db.DatabaseBackend) and run "
            "`manage.py db_worker` beside the web processes.",
            id="dualauth.E046",
        )
    ]
