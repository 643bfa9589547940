"""Fixtures of the account tests: the endpoints' paths, mail read back, and counters of work."""

from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as wire_policy
from typing import Any

import pytest
from django.core.cache import caches
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage as DjangoEmailMessage
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME, TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient
from time_machine import TimeMachineFixture

from common.conf import CACHE_ALIAS
from common.routes import SHARED_ROUTES, api_prefix
from tests.conftest import PASSWORD
from tests.mail import key_of
from tests.modes import ModeClient

NEW_PASSWORD = "a brand new passphrase 42"
# Keys travel in links' fragments: base64url, digits, dots and dashes only.
URL_SAFE = r"^[A-Za-z0-9_\-.]+$"
# How each mode names a credential whose login is over.
DEAD_CREDENTIAL_CODE = {
    "session": "not_authenticated",
    "jwt-header": "token_revoked",
    "jwt-cookie": "token_revoked",
}
# The account endpoints that need no login.
PUBLIC = ("signup", "email-verify", "email-resend", "password-reset", "password-reset-confirm")
MAIL_SENT = {"detail": "If the address can receive it, a mail is on its way.", "code": "mail_sent"}
# The cache methods a request may call; each call is one round trip to a shared cache.
CACHE_METHODS = (
    "get",
    "get_many",
    "set",
    "set_many",
    "add",
    "delete",
    "delete_many",
    "incr",
    "decr",
    "has_key",
    "touch",
    "get_or_set",
)


def account_path(endpoint: str) -> str:
    """The absolute path of an account endpoint (a name of the shared route table)."""
    return api_prefix() + SHARED_ROUTES[endpoint]


def public_post(endpoint: str, body: Any, **extra: Any) -> Any:
    """POST `body` as JSON to a public account endpoint, as an anonymous browser would."""
    client = APIClient(enforce_csrf_checks=True)
    return client.post(account_path(endpoint), body, format="json", **extra)


def signup(name: str, email: str | None = None, password: str = PASSWORD) -> Any:
    """Sign `name` up through the API, with `email` (default `name@example.com`)."""
    body = {"username": name, "email": email or f"{name}@example.com", "password": password}
    return public_post("signup", body)


def dualauth(settings: Any, **values: Any) -> None:
    """Change DUALAUTH settings for one test, keeping the others."""
    settings.DUALAUTH = {**settings.DUALAUTH, **values}


def parsed(message: DjangoEmailMessage) -> EmailMessage:
    """A mail Django sent, as the standard library reads it off the wire."""
    found = message_from_bytes(message.message().as_bytes(), policy=wire_policy)
    assert isinstance(found, EmailMessage)
    return found


def login(mode: str, username: str, password: str = PASSWORD) -> ModeClient:
    """A client of `mode` logged in as `username`."""
    client = ModeClient(mode)
    response = client.login(username, password)
    assert response.status_code == 200, response.content
    return client


def refresh(client: ModeClient) -> None:
    """Give a JWT client a new access token (the login stays the same); a session needs none."""
    if client.mode == "session":
        return
    if client.mode == "jwt-header":
        response = client.request(
            "post", "/api/jwt/token/refresh/", {"refresh": client.tokens["refresh"]}
        )
        assert response.status_code == 200, response.content
        client.tokens = response.json()
        client.use_bearer(client.tokens["access"])
        return
    response = client.request("post", "/api/jwt/cookie/refresh/")
    assert response.status_code == 200, response.content


@pytest.fixture
def clock(time_machine: TimeMachineFixture) -> TimeMachineFixture:
    """The clock, standing still on a whole second until the test moves it."""
    time_machine.move_to(timezone.now().replace(microsecond=0), tick=False)
    return time_machine


@pytest.fixture
def mails(sent_mail: Callable[[], list[Any]]) -> Callable[..., list[EmailMessage]]:
    """The account mails sent so far (to `to`, in any case, if given), oldest first."""

    def sent(to: str | None = None) -> list[EmailMessage]:
        return [
            parsed(m)
            for m in sent_mail()
            if to is None or to.casefold() in [r.casefold() for r in m.to]
        ]

    return sent


def last_key(mails: Callable[..., list[EmailMessage]], to: str) -> str:
    """The key of the latest mail to `to`."""
    sent = mails(to)
    assert sent, f"a mail to {to}"
    return key_of(sent[-1])


class RecordingBackend(BaseEmailBackend):
    """A mail backend that keeps what it is given; with `failure` set, each send raises it,
    as an SMTP server that hangs up would.
    """

    sent: list[DjangoEmailMessage] = []
    failure: Exception | None = None

    def send_messages(self, email_messages: Any) -> int:
        """Record each message, then fail if told to."""
        RecordingBackend.sent.extend(email_messages)
        if RecordingBackend.failure is not None:
            raise RecordingBackend.failure
        return len(email_messages)


@pytest.fixture
def recording_backend(settings: Any) -> Iterator[type[RecordingBackend]]:
    """Account mail goes to `RecordingBackend`."""
    settings.EMAIL_BACKEND = f"{__name__}.RecordingBackend"
    RecordingBackend.sent = []
    RecordingBackend.failure = None
    yield RecordingBackend
    RecordingBackend.failure = None


class TaskQueue:
    """The database task queue (django-tasks-db), as production has it, worked in this process."""

    def waiting(self) -> list[DBTaskResult]:
        """The tasks not run yet, due or not, soonest first."""
        waiting = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
        return list(waiting.order_by("run_after"))

    def run(self) -> int:
        """Run every task due now, as `manage.py db_worker` would; how many ran."""
        before = DBTaskResult.objects.exclude(status=TaskResultStatus.READY).count()
        Worker(
            queue_names=[DEFAULT_TASK_QUEUE_NAME],
            interval=0,
            batch=True,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=False,
            max_tasks=None,
            worker_id="tests",
            excluded_queue_names=[],
        ).run()
        return DBTaskResult.objects.exclude(status=TaskResultStatus.READY).count() - before


@pytest.fixture
def task_queue(settings: Any, transactional_db: None) -> TaskQueue:
    """Account mail queued in the database, as TASK_BACKEND=database does, until run by hand.

    Committed, as a worker process sees it: the worker closes a connection left in a
    transaction.
    """
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    return TaskQueue()


@pytest.fixture
def cache_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls this thread makes to the caches (each one round trip), in order, by name.

    A call a cache method makes to another (a process-local cache's `get_many` calls `get`
    for each key) is part of the outer one.
    """
    calls: list[str] = []
    depth = [0]
    for alias in {"default", CACHE_ALIAS}:
        cache = caches[alias]
        for name in CACHE_METHODS:
            method = getattr(cache, name)

            def counted(*args: Any, _name: str = name, _method: Any = method, **kw: Any) -> Any:
                if not depth[0]:
                    calls.append(_name)
                depth[0] += 1
                try:
                    return _method(*args, **kw)
                finally:
                    depth[0] -= 1

            monkeypatch.setattr(cache, name, counted)
    return calls
