"""deploy/gunicorn.conf.py: gunicorn refuses to start on a failed deployment check."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bench.processes import first_answer, free_port, http_answer, process_start, process_stop
from tests.deploy.conftest import ROOT
from tests.live import database_url, server_log_watch

GUNICORN = Path(sys.executable).parent / "gunicorn"
SECRETS = {"SECRET_KEY": "k" * 25 + "Q" * 25, "JWT_SIGNING_KEY": "j" * 24 + "W" * 24}


def gunicorn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """gunicorn as deployed, with `env` over this environment, writing to `log`.

    Its application is checked as WSGI (tests/wsgi.py).
    """
    return process_start(
        [
            str(GUNICORN),
            "--config",
            "deploy/gunicorn.conf.py",
            "tests.wsgi:validated('project.wsgi')",
        ],
        log,
        cwd=ROOT,
        env={
            **os.environ,
            "DEBUG": "false",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            # One worker may keep its own cache: the tests run with Redis or without.
            "ALLOW_PROCESS_LOCAL_CACHE": "true",
            # Production sends account mail by SMTP (dualauth.E032); none is sent here.
            "EMAIL_HOST": "127.0.0.1",
            # Production's mail links go to the SPA's configured address (dualauth.E033).
            "FRONTEND_URL": f"http://127.0.0.1:{port}/",
            # Production queues it in the database, for a worker (dualauth.E046).
            "TASK_BACKEND": "database",
            **env,
        },
    )


def refusal_code(process: subprocess.Popen[bytes]) -> int | None:
    """The exit code of a gunicorn that refuses to start; None, once stopped, if it serves."""
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process_stop(process)
        return None


def health(process: subprocess.Popen[bytes], port: int, log: Path) -> httpx.Response:
    """The health endpoint's answer once the server listens; raises with `log` if it exits first.

    From then on, an unhandled error in `log` fails the test.
    """
    server_log_watch(log)
    return first_answer(
        process,
        lambda: http_answer(f"http://127.0.0.1:{port}/api/health/"),
        log_path=log,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY is not set"),
        ("JWT_SIGNING_KEY", "(dualauth.E001) JWT_SIGNING_KEY is not set."),
    ],
)
def test_gunicorn_refuses_to_start_without_a_required_key(
    missing: str, message: str, tmp_path: Path
) -> None:
    log = tmp_path / "gunicorn.log"
    # Empty, not unset: an empty value also keeps a local `.env` from filling it in.
    process = gunicorn({**SECRETS, missing: ""}, free_port(), log)
    assert process.wait(timeout=60) != 0
    output = log.read_text()
    assert message in output
    assert "Booting worker" not in output


def test_gunicorn_serves_once_the_deployment_checks_pass(
    transactional_db: None, tmp_path: Path
) -> None:
    port, log = free_port(), tmp_path / "gunicorn.log"
    process = gunicorn({**SECRETS, "DATABASE_URL": database_url()}, port, log)
    try:
        response = health(process, port, log)
        assert response.status_code == 200, log.read_text()
    finally:
        process_stop(process)


def test_gunicorn_refuses_a_process_local_cache_it_was_not_told_to_allow(tmp_path: Path) -> None:
    log = tmp_path / "gunicorn.log"
    process = gunicorn(
        {**SECRETS, "REDIS_URL": "", "ALLOW_PROCESS_LOCAL_CACHE": ""}, free_port(), log
    )
    assert refusal_code(process) not in (0, None), log.read_text()
    output = log.read_text()
    assert "(dualauth.E006)" in output
    assert "REDIS_URL" in output
    assert "Booting worker" not in output


def test_gunicorn_refuses_more_than_one_worker_on_a_process_local_cache(tmp_path: Path) -> None:
    log = tmp_path / "gunicorn.log"
    env = {**SECRETS, "REDIS_URL": "", "ALLOW_PROCESS_LOCAL_CACHE": "true"}
    process = gunicorn({**env, "WEB_CONCURRENCY": "2"}, free_port(), log)
    assert refusal_code(process) not in (0, None), log.read_text()
    output = log.read_text()
    assert "ALLOW_PROCESS_LOCAL_CACHE" in output
    assert "Booting worker" not in output


def test_gunicorn_serves_one_worker_on_a_process_local_cache_when_allowed(
    transactional_db: None, tmp_path: Path
) -> None:
    port, log = free_port(), tmp_path / "gunicorn.log"
    env = {**SECRETS, "REDIS_URL": "", "ALLOW_PROCESS_LOCAL_CACHE": "true"}
    process = gunicorn({**env, "DATABASE_URL": database_url(), "WEB_CONCURRENCY": "1"}, port, log)
    try:
        response = health(process, port, log)
        assert response.status_code == 200, log.read_text()
        assert "Booting worker" in log.read_text()
    finally:
        process_stop(process)
