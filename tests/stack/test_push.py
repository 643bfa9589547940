"""Two instances under the `push` revocation level: a revocation's invalidation is published
before its answer is sent.

That a steady-state request reads nothing from Redis, and that a revocation on one instance
is refused by the other on the very next request, run with every other scenario of two
instances, on one Redis and on a cluster, in test_instances.py."""

import pytest
from django.contrib.auth.models import User

from tests.modes import MODES
from tests.stack.clients import StackClient, logged_in
from tests.stack.conftest import Stack

pytestmark = pytest.mark.server

MARKER = "after-the-answer"


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
