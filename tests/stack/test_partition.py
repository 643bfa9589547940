"""A revocation made while Redis cannot take it reaches it once it can, unasked.

The database revokes at once and keeps the revocation pending until the cache takes it;
the revoking instance's cache write fails, and it owes the cache. Its recovery thread
(common/cache_recovery.py) pays as soon as Redis takes writes again, and the host's polling
process writes what is pending; no further request to the revoking instance is needed
for every other instance to refuse the revoked login.
"""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache.backends.base import BaseCache
from django.test import override_settings
from django.utils.module_loading import import_string

from common.cache_recovery import cache_identity
from common.conf import CACHE_ALIAS, dualauth_settings
from common.models import LoginFamily
from common.selectors import REVOKED, family_cache_key
from project.settings import cache_key_prefix, redis_caches
from tests.conftest import eventually
from tests.modes import MODES
from tests.stack.clients import StackClient, logged_in
from tests.stack.conftest import Stack

pytestmark = pytest.mark.server

# How long the marker may take to land once Redis takes writes again: ample for a thread
# that retries every 20 ms; far below FAMILY_CACHE_TTL (60 s), the window it closes.
MARKER_DEADLINE = 5.0
# How long B may take to refuse a login revoked during CLIENT PAUSE WRITE: many times the
# poll of the pending revocations (CACHE_PENDING_POLL) and the cache's socket timeout, for
# a loaded machine: a deadline, not a bound.
REFUSAL_DEADLINE = 40 * dualauth_settings.CACHE_PENDING_POLL.total_seconds()
# Requests each connection sends at once with the others, once B refuses: many times the
# threads of a worker, over many of its recovery thread's attempts to pay.
STEADY_REQUESTS = 40
# The longest CLIENT PAUSE a test asks for: it ends on its own if the test dies in between.
PAUSE_MS = 30_000


def server_cache(stack: Stack) -> BaseCache:
    """The stack's Redis as its instances see it: their cache alias, under their key prefix."""
    # The instances inherit this process's environment, its xdist worker included.
    conf = redis_caches(stack.redis.url, cache_key_prefix(stack.prefix))[CACHE_ALIAS]
    cache: BaseCache = import_string(conf["BACKEND"])(conf["LOCATION"], conf)
    return cache


def stack_identity(stack: Stack) -> str:
    """The name the stack's instances give their cache (cache_recovery.cache_identity)."""
    with override_settings(CACHES=redis_caches(stack.redis.url, cache_key_prefix(stack.prefix))):
        return cache_identity()


def login_on(
    mode: str, base: str, user: User, agents: list[StackClient]
) -> tuple[StackClient, str]:
    """An agent of `mode` logged in on `base`, and the cache key of its login family."""
    before = set(LoginFamily.objects.filter(user=user).values_list("pk", flat=True))
    agent = logged_in(mode, base, user, agents)
    (family,) = set(LoginFamily.objects.filter(user=user).values_list("pk", flat=True)) - before
    return agent, family_cache_key(family, user.pk)


def logged_in_and_cached(
    stack: Stack, user: User, agents: list[StackClient], cache: BaseCache
) -> list[tuple[StackClient, StackClient, str]]:
    """Per mode, a login read on B (its live state cached), a replay of it, and its cache key."""
    logins = []
    for mode in MODES:
        agent, key = login_on(mode, stack.b.url, user, agents)
        assert agent.profile(stack.b.url).status_code == 200, mode
        assert cache.get(key) not in (None, REVOKED), mode
        replay = agent.clone()
        agents.append(replay)
        logins.append((agent, replay, key))
    return logins


def markers_landed(cache: BaseCache, keys: list[str]) -> dict[str, Any]:
    """Poll the cache until every key holds REVOKED, or MARKER_DEADLINE passes; what it holds."""
    revoked = dict.fromkeys(keys, REVOKED)
    eventually(lambda: cache.get_many(keys) == revoked, within=MARKER_DEADLINE)
    return cache.get_many(keys)


@contextmanager
def redis_stopped(stack: Stack) -> Iterator[None]:
    """Redis stopped (SIGSTOP) within: it answers nothing, and keeps its data."""
    stack.redis.pause()
    try:
        yield
    finally:
        stack.redis.resume()


@contextmanager
def redis_refusing_writes(stack: Stack) -> Iterator[None]:
    """Redis answering reads and holding every write (CLIENT PAUSE WRITE) within."""
    control = stack.redis.client()
    control.execute_command("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
    try:
        yield
    finally:
        control.execute_command("CLIENT", "UNPAUSE")
        control.close()


def statuses(agents: list[StackClient], base: str) -> dict[str, int]:
    """Each agent's profile status on `base`, by mode."""
    return {agent.mode: agent.profile(base).status_code for agent in agents}


def first_refusals(replays: list[StackClient], base: str) -> list[bool]:
    """Poll each replay's profile on `base` until refused, or REFUSAL_DEADLINE passes; refused?"""
    deadline = time.monotonic() + REFUSAL_DEADLINE
    refused = [False] * len(replays)
    while time.monotonic() < deadline and not all(refused):
        for i, replay in enumerate(replays):
            refused[i] = refused[i] or replay.profile(base).status_code == 401
    return refused


def concurrent_statuses(replays: list[StackClient], base: str) -> dict[str, set[int]]:
    """Every replay sending STEADY_REQUESTS profile reads to `base` at once; statuses by mode."""

    def burst(replay: StackClient) -> set[int]:
        return {replay.profile(base).status_code for _ in range(STEADY_REQUESTS)}

    seen: dict[str, set[int]] = {}
    with ThreadPoolExecutor(len(replays)) as pool:
        for replay, answered in zip(replays, pool.map(burst, replays), strict=True):
            seen.setdefault(replay.mode, set()).update(answered)
    return seen


def test_a_revocation_made_while_redis_is_stopped_is_refused_everywhere_once_it_answers(
    stack: Stack, stack_user: User, agents: list[StackClient]
) -> None:
    """Redis stops answering (a node frozen, its data kept) while A revokes a login.

    First, B is asked nothing during the outage: the case of SECURITY.md's known limit,
    where B would then have read the live state still cached, for up to FAMILY_CACHE_TTL.
    Then B serves requests during the outage: from the database, which refuses the revoked
    login at once. Either way the marker lands once Redis answers, with no request to A.
    """
    cache = server_cache(stack)
    unseen = logged_in_and_cached(stack, stack_user, agents, cache)
    with redis_stopped(stack):
        for agent, _, _ in unseen:
            assert agent.logout(stack.a.url).status_code == 204, agent.mode
    held = markers_landed(cache, [key for _, _, key in unseen])
    assert held == dict.fromkeys([key for _, _, key in unseen], REVOKED)
    assert statuses([replay for _, replay, _ in unseen], stack.b.url) == dict.fromkeys(MODES, 401)

    served = logged_in_and_cached(stack, stack_user, agents, cache)
    kept = [login_on(mode, stack.b.url, stack_user, agents)[0] for mode in MODES]
    with redis_stopped(stack):
        for agent, _, _ in served:
            assert agent.logout(stack.a.url).status_code == 204, agent.mode
        # B cannot read the cache either: the database answers, and refuses the revoked login.
        assert statuses(kept, stack.b.url) == dict.fromkeys(MODES, 200)
        assert statuses([replay for _, replay, _ in served], stack.b.url) == dict.fromkeys(
            MODES, 401
        )
    held = markers_landed(cache, [key for _, _, key in served])
    assert held == dict.fromkeys([key for _, _, key in served], REVOKED)
    assert statuses([replay for _, replay, _ in served], stack.b.url) == dict.fromkeys(MODES, 401)
    assert statuses(kept, stack.b.url) == dict.fromkeys(MODES, 200)


def test_a_revocation_made_while_redis_refuses_writes_is_refused_by_every_instance_meanwhile(
    stack: Stack, stack_user: User, agents: list[StackClient]
) -> None:
    """Redis answers reads but holds every write (CLIENT PAUSE WRITE) while A revokes a login.

    The cache still holds the live state B read before the logout, and no process can
    write the revocation there: it waits in the database, pending for this deployment.
    The host's poller fails to write it and tells the host's other processes, which owe
    the cache and, until they pay, read the database: every process of B comes to refuse
    the revoked login while the pause still holds, on every request however many come at
    once. Once Redis takes writes, the marker lands with no request to A.
    """
    cache = server_cache(stack)
    logins = logged_in_and_cached(stack, stack_user, agents, cache)
    keys = [key for _, _, key in logins]
    replays = [replay for _, replay, _ in logins]
    # More connections to B than it has workers: each worker gets some.
    replays += [replay.clone() for replay in replays]
    agents.extend(replays[len(logins) :])
    with redis_refusing_writes(stack):
        for agent, _, _ in logins:
            assert agent.logout(stack.a.url).status_code == 204, agent.mode
        pending = LoginFamily.objects.filter(user=stack_user, revoked_at__isnull=False)
        assert set(pending.values_list("cache_pending", flat=True)) == {stack_identity(stack)}
        first = first_refusals(replays, stack.b.url)
        steady = concurrent_statuses(replays, stack.b.url)
        # Nothing was written meanwhile: the pause held, and B refused from the database.
        held = cache.get_many(keys)
    assert all(first), [r.mode for r, refused in zip(replays, first, strict=True) if not refused]
    assert steady == {mode: {401} for mode in MODES}, steady
    assert all(held[key] != REVOKED for key in keys), held
    held = markers_landed(cache, keys)
    assert held == dict.fromkeys(keys, REVOKED)
    assert statuses([replay for _, replay, _ in logins], stack.b.url) == dict.fromkeys(MODES, 401)
