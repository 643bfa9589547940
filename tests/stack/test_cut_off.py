"""An instance cut off from Redis while the others see it: its revocations still reach them."""

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User

from bench.relay import TcpRelay
from common.conf import dualauth_settings
from tests.conftest import eventually
from tests.live import LiveServer
from tests.modes import MODES
from tests.stack.clients import StackClient, logged_in, logged_out
from tests.stack.conftest import Stack

pytestmark = pytest.mark.server

# Many times the pending poll (CACHE_PENDING_POLL), for a loaded machine: a deadline, not a bound.
DEADLINE = 40 * dualauth_settings.CACHE_PENDING_POLL.total_seconds()


@pytest.fixture(scope="module")
def cut_off(stack: Stack) -> Iterator[tuple[LiveServer, TcpRelay]]:
    """A third instance of the stack, reaching its Redis through a relay a test can cut;
    stopped at the end of the module.
    """
    relay = TcpRelay(stack.redis.port).start()
    server = LiveServer(
        REDIS_URL=f"redis://127.0.0.1:{relay.port}/0",
        CACHE_KEY_PREFIX=stack.prefix,
        GUNICORN_CMD_ARGS="--keep-alive=75",
    ).start()
    try:
        yield server, relay
    finally:
        server.stop()
        relay.stop()


@pytest.mark.parametrize("mode", MODES)
def test_a_logout_on_an_instance_cut_off_from_redis_is_refused_by_the_others_meanwhile(
    mode: str,
    stack: Stack,
    stack_user: User,
    agents: list[StackClient],
    cut_off: tuple[LiveServer, TcpRelay],
) -> None:
    server, relay = cut_off
    agent = logged_in(mode, stack.b.url, stack_user, agents)
    for base in stack.urls:
        # Each instance has read the login's live state into the cache.
        assert agent.profile(base).status_code == 200
    relay.cut()
    try:
        # The cut-off instance revokes in the database; its cache write fails.
        replay = logged_out(agent, server.url, agents)
        assert replay.profile(server.url).status_code == 401
        # The instances that see Redis read the family live there, until one of them takes
        # the revocation pending in the database to the cache: while the cut lasts.
        assert eventually(lambda: replay.profile(stack.b.url).status_code == 401, within=DEADLINE)
        assert replay.profile(stack.a.url).status_code == 401
    finally:
        relay.heal()
    assert replay.profile(server.url).status_code == 401
