"""Redis or PostgreSQL failing under two instances: nobody is logged out, no revocation is lost."""

import socket

import pytest
from django.contrib.auth.models import User
from django.db import connection

from bench.processes import first_answer, http_answer, process_start
from tests.live import ROOT, LiveServer
from tests.modes import MODES
from tests.stack.clients import (
    StackClient,
    assert_authenticated,
    assert_refused,
    logged_in,
    logged_out,
)
from tests.stack.conftest import Stack

pytestmark = pytest.mark.server


def test_a_redis_outage_logs_nobody_out_and_loses_no_revocation(
    stack: Stack, stack_user: User, agents: list[StackClient]
) -> None:
    kept = [logged_in(mode, base, stack_user, agents) for mode in MODES for base in stack.urls]
    doomed = [logged_in(mode, stack.a.url, stack_user, agents) for mode in MODES]
    assert_authenticated(kept + doomed, stack.urls)
    revoked_before = [
        logged_out(logged_in(mode, stack.b.url, stack_user, agents), stack.a.url, agents)
        for mode in MODES
    ]

    stack.redis.stop()
    try:
        for response in stack.health():
            assert response.status_code == 503
            assert response.json() == {
                "status": "unavailable",
                "checks": {"database": "ok", "cache": "unavailable"},
            }
        assert_authenticated(kept + doomed, stack.urls)
        assert_refused(revoked_before, stack.urls)
        fresh = [logged_in(mode, base, stack_user, agents) for mode in MODES for base in stack.urls]
        assert_authenticated(fresh, stack.urls)
        for agent in kept + fresh:
            assert agent.refresh(stack.b.url).status_code == 200, agent.mode
        assert (
            kept[0].profile_update(stack.a.url, bio="written during the outage").status_code == 200
        )
        revoked_during = [logged_out(agent, stack.b.url, agents) for agent in doomed]
        assert_refused(revoked_during, stack.urls)
        assert_authenticated(kept + fresh, stack.urls)
    finally:
        stack.redis.start()

    stack.wait_until_healthy()
    for response in stack.health():
        assert response.json()["checks"] == {"database": "ok", "cache": "ok"}
    assert_authenticated(kept + fresh, stack.urls)
    assert_refused(revoked_before + revoked_during, stack.urls)
    assert kept[1].profile(stack.b.url).json()["bio"] == "written during the outage"


def test_killed_database_connections_recover_and_never_give_an_html_500(
    stack: Stack, stack_user: User, agents: list[StackClient]
) -> None:
    everyone = [logged_in(mode, base, stack_user, agents) for mode in MODES for base in stack.urls]
    assert_authenticated(everyone, stack.urls)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchall(), "the instances held database connections"
    statuses = []
    for round_ in range(3):
        for agent in everyone:
            for base in stack.urls:
                for response in (
                    agent.profile(base),
                    agent.profile_update(base, bio=f"round {round_}"),
                ):
                    statuses.append(response.status_code)
                    if response.status_code != 200:
                        assert response.status_code == 503, response.text
                        assert response.headers["Content-Type"] == "application/json"
                        assert response.json()["code"] == "service_unavailable"
    last_round = statuses[-2 * len(everyone) * len(stack.urls) :]
    assert set(last_round) == {200}, statuses
    for response in stack.health():
        assert response.status_code == 200, response.text


def test_health_names_an_unreachable_database_instead_of_hanging(stack: Stack) -> None:
    # A server that accepts connections and never answers: only connect_timeout ends the wait.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        server = LiveServer(
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/silent",
            REDIS_URL=stack.redis.url,
            DATABASE_TIMEOUT="2",
        )
        # Not start(): its probes give up after 1 s, before this health check's 2 s database wait.
        server.process = process_start(server.args, server.log_path, cwd=ROOT, env=server.env)
        try:
            response = first_answer(
                server.process,
                lambda: http_answer(f"{server.url}/api/health/", timeout=20),
                log_path=server.log_path,
                timeout=20,
            )
            assert response.status_code == 503
            assert response.json() == {
                "status": "unavailable",
                "checks": {"database": "unavailable", "cache": "ok"},
            }
        finally:
            server.stop()
