"""What the tests of the system checks share: the checks' ids, the deploy check's errors, and
account mail set up as in production.
"""

from typing import Any

from django.core.checks import CheckMessage, run_checks

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Where production queues account mail (TASK_BACKEND=database), and where it must not.
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
IN_PROCESS_TASK_BACKENDS = (
    "django_tasks.backends.immediate.ImmediateBackend",
    "django_tasks.backends.dummy.DummyBackend",
)


def ids(messages: list[CheckMessage]) -> list[str]:
    """The messages' ids, sorted: the checks run in no particular order."""
    return sorted(str(message.id) for message in messages)


def deploy_errors() -> list[CheckMessage]:
    """The project's errors that `manage.py check --deploy` reports."""
    return [
        message
        for message in run_checks(include_deployment_checks=True)
        if message.is_serious() and str(message.id).startswith("dualauth.")
    ]


def production_mail(settings: Any) -> None:
    """Account mail is queued in the database, leaves by SMTP and links to the SPA's address,
    as in production; the tests' own backends send it at once and keep it in memory.
    """
    settings.EMAIL_BACKEND = SMTP_BACKEND
    settings.TASKS = DATABASE_TASKS
    settings.DUALAUTH = {**settings.DUALAUTH, "FRONTEND_URL": "https://app.example.com/"}
