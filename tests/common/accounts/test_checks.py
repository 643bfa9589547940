"""The accounts' system checks refuse mail that never leaves, links built from any Host, and
a queue that loses mail."""

from typing import Any

import pytest
from django.core.checks import Tags, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from common.accounts.checks import LOCAL_EMAIL_BACKENDS, frontend_url_check, mail_queue_check
from tests.checks import IN_PROCESS_TASK_BACKENDS, deploy_errors, ids, production_mail


@pytest.fixture(autouse=True)
def _production_mail(settings: Any) -> None:
    production_mail(settings)


@pytest.mark.parametrize("backend", LOCAL_EMAIL_BACKENDS)
def test_account_mail_that_never_leaves_the_server_fails_the_deploy_check(
    settings: Any, backend: str
) -> None:
    settings.EMAIL_BACKEND = backend
    [error] = [error for error in deploy_errors() if error.id == "dualauth.E032"]

    assert backend in error.msg
    assert "EMAIL_HOST" in str(error.hint)


def test_account_mail_by_smtp_passes_the_deploy_check() -> None:
    assert "dualauth.E032" not in ids(deploy_errors())


@pytest.mark.parametrize("allowed", [["*"], ["app.example.com"]])
def test_production_without_a_frontend_url_fails_the_deploy_check(
    settings: Any, allowed: list[str]
) -> None:
    settings.DEBUG, settings.ALLOWED_HOSTS = False, allowed
    settings.DUALAUTH = {**settings.DUALAUTH, "FRONTEND_URL": None}
    assert "dualauth.E033" in ids(deploy_errors())

    settings.DUALAUTH = {**settings.DUALAUTH, "FRONTEND_URL": "https://app.example.com/"}
    assert "dualauth.E033" not in ids(deploy_errors())


def test_development_links_from_listed_hosts_pass_the_deploy_check(settings: Any) -> None:
    settings.DEBUG, settings.ALLOWED_HOSTS = True, ["app.example.com"]
    settings.DUALAUTH = {**settings.DUALAUTH, "FRONTEND_URL": None}
    assert "dualauth.E033" not in ids(deploy_errors())

    settings.ALLOWED_HOSTS = ["*"]
    assert "dualauth.E033" in ids(deploy_errors())


@pytest.mark.parametrize(
    "url", ["app.example.com", "/welcome/", "ftp://app.example.com/", "javascript:alert(1)"]
)
def test_a_frontend_url_that_is_not_an_absolute_http_url_is_e034(settings: Any, url: str) -> None:
    settings.DUALAUTH = {**settings.DUALAUTH, "FRONTEND_URL": url}
    assert ids(frontend_url_check(None)) == ["dualauth.E034"]


@pytest.mark.parametrize(
    "url", ["", "http://127.0.0.1:8000/", "https://app.example.com/welcome?from=mail"]
)
def test_an_absolute_http_frontend_url_passes(settings: Any, url: str) -> None:
    settings.DUALAUTH = {**settings.DUALAUTH, "FRONTEND_URL": url}
    assert frontend_url_check(None) == []


@pytest.mark.parametrize("backend", IN_PROCESS_TASK_BACKENDS)
def test_account_mail_queued_in_the_web_process_fails_the_deploy_check(
    settings: Any, backend: str
) -> None:
    settings.TASKS = {"default": {"BACKEND": backend}}
    [error] = mail_queue_check(None)

    assert error.id == "dualauth.E046"
    assert backend.rsplit(".", 1)[1] in error.msg
    assert "TASK_BACKEND=database" in str(error.hint)
    assert "db_worker" in str(error.hint)
    with pytest.raises(SystemCheckError, match=r"dualauth\.E046"):
        call_command("check", "--deploy")


def test_account_mail_queued_in_the_database_passes_the_deploy_check() -> None:
    assert mail_queue_check(None) == []


def test_the_mail_queue_check_runs_only_with_deploy(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": IN_PROCESS_TASK_BACKENDS[0]}}

    assert "dualauth.E046" not in [message.id for message in run_checks(tags=[Tags.security])]
