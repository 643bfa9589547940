"""Account mail: text and HTML, links to the SPA, overridable templates, sent off the request."""

import html
import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.utils import timezone

from bench.processes import free_port
from common.conf import dualauth_settings
from tests.common.accounts.conftest import (
    NEW_PASSWORD,
    account_path,
    dualauth,
    last_key,
    login,
    public_post,
    signup,
)
from tests.conftest import PASSWORD, require_service, uses_postgres
from tests.live import TaskWorker
from tests.mail import SmtpServer, key_of, link_of, link_params, text_of

pytestmark = pytest.mark.django_db
# Each kind of mail: the SPA action its link asks for ("" for the SPA's front page), and
# whether the link carries a key.
KINDS = {
    "email_verify": ("verify-email", True),
    "account_exists": ("forgot-password", False),
    "welcome": ("", False),
    "unknown_account": ("signup", False),
    "already_verified": ("", False),
    "password_reset": ("reset-password", True),
    "email_change": ("verify-email", True),
    "email_changed": ("undo", True),
}


def _send(kind: str, user: Any, settings: Any, mails: Any) -> str:
    """Make the API send one mail of `kind`; the address it goes to."""
    if kind in ("email_verify", "welcome"):
        if kind == "welcome":
            dualauth(settings, EMAIL_VERIFICATION="none")
        assert signup("newbie").status_code == 202
        return "newbie@example.com"
    if kind == "account_exists":
        assert signup("newbie", email=user.email).status_code == 202
        return str(user.email)
    if kind in ("unknown_account", "password_reset"):
        to = "nobody@example.com" if kind == "unknown_account" else user.email
        assert public_post("password-reset", {"email": to}).status_code == 202
        return str(to)
    if kind == "already_verified":
        assert public_post("email-resend", {"email": user.email}).status_code == 202
        return str(user.email)
    client = login("jwt-header", user.get_username())
    response = client.request("post", account_path("email-change"), {"email": "moved@example.com"})
    assert response.status_code == 202
    if kind == "email_change":
        return "moved@example.com"
    key = last_key(mails, "moved@example.com")
    assert public_post("email-verify", {"key": key}).status_code == 200
    return str(user.email)


@pytest.mark.parametrize("kind", KINDS)
def test_every_account_mail_has_a_text_and_an_html_part_with_its_link(user, settings, mails, kind):
    to = _send(kind, user, settings, mails)
    [message] = mails(to)
    assert message["Subject"]
    assert "\n" not in message["Subject"]
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    assert html_part.get_content_type() == "text/html"
    link = link_of(message)
    assert link in html.unescape(str(html_part.get_content()))
    action, keyed = KINDS[kind]
    params = link_params(link)
    assert params.get("action", [""]) == [action]
    assert ("key" in params) == keyed
    assert urlsplit(link).query == ""


def test_a_link_points_at_the_frontend_url_keeping_its_own_query(settings, mails):
    dualauth(settings, FRONTEND_URL="https://app.example.com/welcome?x=1")
    assert signup("newbie").status_code == 202
    [message] = mails("newbie@example.com")
    link = urlsplit(link_of(message))
    assert (link.scheme, link.netloc, link.path) == ("https", "app.example.com", "/welcome")
    assert parse_qs(link.query) == {"x": ["1"]}
    assert parse_qs(link.fragment) == {"action": ["verify-email"], "key": [key_of(message)]}
    verify = public_post("email-verify", {"key": key_of(message), "password": PASSWORD})
    assert verify.status_code == 200


def test_a_link_points_at_the_sites_own_root_without_a_frontend_url(mails):
    assert signup("newbie").status_code == 202
    [message] = mails("newbie@example.com")
    link = urlsplit(link_of(message))
    assert (link.scheme, link.netloc, link.path, link.query) == ("http", "testserver", "/", "")
    assert parse_qs(link.fragment) == {"action": ["verify-email"], "key": [key_of(message)]}


def test_a_project_can_override_the_template_of_one_kind(user, settings, mails, tmp_path):
    subject = tmp_path / "dualauth" / "mail" / "password_reset" / "subject.txt"
    subject.parent.mkdir(parents=True)
    subject.write_text("Example Co: your reset link\n")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    assert public_post("password-reset", {"email": user.email}).status_code == 202
    assert public_post("email-resend", {"email": user.email}).status_code == 202
    reset, resent = mails(user.email)
    assert reset["Subject"] == "Example Co: your reset link"
    assert key_of(reset)
    assert resent["Subject"] != reset["Subject"]


@pytest.mark.parametrize("endpoint", ["signup", "password-reset"])
def test_a_mail_that_cannot_be_sent_never_fails_the_request_and_is_logged_after_its_retries(
    user, settings, caplog, endpoint
):
    caplog.set_level(logging.INFO, logger="dualauth.mail")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    dualauth(settings, MAIL_RETRY_DELAYS=(0, 0))
    body = {"username": "newbie", "email": "newbie@example.com", "password": "a passphrase 42"}
    if endpoint == "password-reset":
        body = {"email": user.email}
    assert public_post(endpoint, body).status_code == 202
    records = [r for r in caplog.records if r.name == "dualauth.mail"]
    assert [r.levelno for r in records] == [logging.WARNING] * 3 + [logging.ERROR]
    failed = records[-1]
    assert failed.getMessage() == "mail_failed"
    assert failed.__dict__["event"] == "mail_failed"
    assert failed.__dict__["kind"] == ("email_verify" if endpoint == "signup" else "password_reset")


def test_a_mail_sent_through_a_real_smtp_server_reads_back_whole(user, smtp):
    assert public_post("password-reset", {"email": user.email}).status_code == 202
    [message] = smtp.wait(user.email)
    assert "reset-password" in link_of(message)
    assert key_of(message) in text_of(message)
    assert message.get_body(preferencelist=("html",)) is not None


def test_a_request_only_queues_its_mail_sealed_and_a_worker_sends_it(user, smtp, task_queue):
    assert public_post("password-reset", {"email": user.email}).status_code == 202
    # Nothing is sent by the request: the mail waits in the queue for a worker.
    assert smtp.messages() == []
    [queued] = task_queue.waiting()
    stored = json.dumps(queued.args_kwargs)
    assert "password_reset" in stored
    assert user.email not in stored
    assert task_queue.run() == 1
    [message] = smtp.wait(user.email)
    assert key_of(message) not in stored
    assert key_of(message).split(".")[-1] not in stored
    assert (
        public_post(
            "password-reset-confirm", {"key": key_of(message), "new_password": NEW_PASSWORD}
        ).status_code
        == 204
    )
    # The reset is a sign-in change: its notice, with an undo key, waits in its turn.
    [notice] = task_queue.waiting()
    assert "signin_changed" in json.dumps(notice.args_kwargs)
    assert key_of(message) not in json.dumps(notice.args_kwargs)


def test_a_mail_the_smtp_server_could_not_take_is_sent_again_after_its_delay_not_before(
    user, settings, task_queue, clock
):
    down = SmtpServer()
    for name, value in down.settings.items():
        setattr(settings, name, value)
    first_delay = timedelta(seconds=dualauth_settings.MAIL_RETRY_DELAYS[0])
    assert public_post("password-reset", {"email": user.email}).status_code == 202
    assert task_queue.run() == 1
    [retry] = task_queue.waiting()
    assert retry.run_after == timezone.now() + first_delay
    down.start()
    try:
        clock.shift(first_delay - timedelta(seconds=1))
        assert task_queue.run() == 0
        clock.shift(timedelta(seconds=1))
        assert task_queue.run() == 1
        [message] = down.wait(user.email)
    finally:
        down.stop()
    assert key_of(message)
    assert task_queue.waiting() == []


def test_a_queued_mail_that_never_goes_is_tried_after_each_delay_then_logged(
    user, settings, task_queue, clock, caplog
):
    caplog.set_level(logging.INFO, logger="dualauth.mail")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    delays = dualauth_settings.MAIL_RETRY_DELAYS
    assert public_post("password-reset", {"email": user.email}).status_code == 202
    assert task_queue.run() == 1
    for delay in delays:
        [retry] = task_queue.waiting()
        assert retry.run_after == timezone.now() + timedelta(seconds=delay)
        clock.shift(timedelta(seconds=delay))
        assert task_queue.run() == 1
    assert task_queue.waiting() == []
    records = [r for r in caplog.records if r.name == "dualauth.mail"]
    assert [r.levelno for r in records] == [logging.WARNING] * (len(delays) + 1) + [logging.ERROR]
    assert records[-1].getMessage() == "mail_failed"
    assert records[-1].__dict__["kind"] == "password_reset"


@pytest.mark.server
def test_a_reset_mail_is_delivered_by_a_worker_after_the_web_process_is_killed(
    live_server_factory, live_user
):
    require_service(uses_postgres(), "a worker process shares the test database on PostgreSQL")
    # Down while the request is made: a web process that sent its own mail would still hold
    # this one when it dies.
    smtp = SmtpServer()
    server = live_server_factory(workers=1, TASK_BACKEND="database", **smtp.env)
    response = httpx.post(
        f"{server.url}{account_path('password-reset')}", json={"email": live_user.email}
    )
    assert response.status_code == 202, response.text
    server.kill()
    smtp.start()
    worker = TaskWorker(**smtp.env).start()
    try:
        [message] = smtp.wait(live_user.email)
    finally:
        worker.stop()
        smtp.stop()
    assert "reset-password" in link_of(message)
    assert key_of(message)


@pytest.mark.parametrize("kind", [kind for kind, (_, keyed) in KINDS.items() if keyed])
def test_a_mailed_key_travels_in_the_links_fragment_never_in_its_query(user, settings, mails, kind):
    to = _send(kind, user, settings, mails)
    link = urlsplit(link_of(mails(to)[-1]))
    assert "key" not in parse_qs(link.query)
    assert parse_qs(link.fragment)["key"] == [key_of(mails(to)[-1])]


@pytest.mark.parametrize(
    ("allowed", "netloc"),
    [
        (["allowed.example"], "allowed.example"),
        (["allowed.example", "allowed.example:8080"], "allowed.example"),
        (["allowed.example", "allowed.example:6666"], "allowed.example:6666"),
        (["*"], "allowed.example"),
    ],
)
def test_a_link_keeps_the_requests_port_only_where_allowed_hosts_lists_host_and_port(
    settings, mails, allowed, netloc
):
    settings.ALLOWED_HOSTS = allowed
    body = {"username": "other", "email": "other@example.com", "password": PASSWORD}
    assert public_post("signup", body, HTTP_HOST="allowed.example:6666").status_code == 202
    [message] = mails("other@example.com")
    assert urlsplit(link_of(message)).netloc == netloc


def test_a_frontend_url_decides_the_link_whatever_the_host_header(settings, mails):
    dualauth(settings, FRONTEND_URL="https://app.example.com/")
    settings.ALLOWED_HOSTS = ["allowed.example", "allowed.example:6666"]
    body = {"username": "newbie", "email": "newbie@example.com", "password": PASSWORD}
    assert public_post("signup", body, HTTP_HOST="allowed.example:6666").status_code == 202
    [message] = mails("newbie@example.com")
    assert link_of(message).startswith("https://app.example.com/#action=verify-email&key=")
