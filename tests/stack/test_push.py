"""Two instances under the `push` revocation level: a steady-state request reads nothing from
Redis, and a revocation's invalidation is published before its answer is sent.

That a revocation on one instance is refused by the other on the very next request runs
with every other scenario of two instances, in test_instances.py."""

import pytest
from django.contrib.auth.models import User

from tests.common.test_push import round_trips
from tests.conftest import eventually
from tests.modes import MODES
from tests.stack.clients import StackClient, logged_in
from tests.stack.conftest import Stack

pytestmark = pytest.mark.server

MARKER = "after-the-answer"


@pytest.mark.parametrize("mode", MODES)
def test_a_steady_state_request_makes_no_redis_round_trip(
    push_stack: Stack, stack_user: User, agents: list[StackClient], mode: str
) -> None:
    agent = logged_in(mode, push_stack.a.url, stack_user, agents)
    server = push_stack.redis.client()

    def profile(times: int = 1) -> None:
        for _ in range(times):
            response = agent.profile(push_stack.a.url)
            assert response.status_code == 200, response.text

    # Its connection stays with one worker, which reads the login's entries once its own
    # writes' pushes are in, and keeps them.
    assert eventually(lambda: round_trips(server, profile) == 0, within=5)
    assert round_trips(server, lambda: profile(times=3)) == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_revocation_publishes_its_invalidation_before_its_answer(
    push_stack: Stack, stack_user: User, agents: list[StackClient], mode: str
) -> None:
    agent = logged_in(mode, push_stack.a.url, stack_user, agents)
    assert agent.profile(push_stack.b.url).status_code == 200
    server = push_stack.redis.client()
    with push_stack.redis.client().monitor() as monitor:
        assert agent.logout(push_stack.a.url).status_code == 204
        server.echo(MARKER)
        before: list[str] = []
        for command in monitor.listen():
            if command["command"] == f"ECHO {MARKER}":
                break
            before.append(command["command"])
    published = [c for c in before if c.startswith("PUBLISH ") and ":family:" in c]
    assert published, before
