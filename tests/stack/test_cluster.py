"""Two instances on one Redis Cluster: a password change and logout-all reach both, and a
primary's crash logs nobody out and loses no revocation, in each revocation level; a request
reads the cluster once (`strict`).

The scenarios every deployment shares (a login, a logout, a throttle across instances, no
round trip in `push`'s steady state) run on the cluster too, in test_instances.py."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from common.models import LoginFamily
from common.selectors import REVOKED, family_cache_key, family_state_from_cache, user_cache_key
from tests.conftest import PASSWORD, eventually
from tests.modes import MODES
from tests.stack.clients import (
    StackClient,
    assert_authenticated,
    assert_refused,
    logged_in,
    logged_out,
)
from tests.stack.cluster import NodeServer
from tests.stack.conftest import ClusterStack

pytestmark = pytest.mark.server

NEW_PASSWORD = "another correct horse battery staple"


def test_a_password_change_and_logout_all_on_one_instance_reach_every_login_on_both(
    revoking_cluster: ClusterStack, stack_user: User, agents: list[StackClient]
) -> None:
    stack = revoking_cluster
    everyone = [logged_in(mode, base, stack_user, agents) for mode in MODES for base in stack.urls]
    assert_authenticated(everyone, stack.urls)
    changer, others = everyone[0], everyone[1:]
    changed = changer.request(
        "POST",
        f"{stack.b.url}/api/password/",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204, changed.text
    assert_refused(others, stack.urls)
    assert_authenticated([changer], stack.urls)
    assert changer.logout_all(stack.a.url).status_code == 204
    assert_refused([changer], stack.urls)


@pytest.mark.parametrize("mode", MODES)
def test_a_request_reads_the_cluster_once(
    cluster_stack: ClusterStack, stack_user: User, agents: list[StackClient], mode: str
) -> None:
    agent = logged_in(mode, cluster_stack.a.url, stack_user, agents)
    for base in cluster_stack.urls:
        assert agent.profile(base).status_code == 200
    cluster_stack.cluster.wait_replicated()
    before = cluster_stack.cluster.commands()
    assert agent.profile(cluster_stack.b.url).status_code == 200
    # Every key of the login (family, user, session) in one slot: one MGET, to its node alone.
    node = cluster_stack.node_of(user_cache_key(stack_user.pk))
    assert cluster_stack.cluster.commands_since(before) == {(node.address, "mget"): 1}


@contextmanager
def failover_held(replica: NodeServer) -> Iterator[Callable[[], None]]:
    """`replica` takes over no failed primary until the block lets it go (calls what it gets)."""
    client = replica.client()
    factor = "cluster-replica-validity-factor"
    validity = str(client.config_get(factor)[factor])

    def release() -> None:
        client.config_set("cluster-replica-no-failover", "no")

    client.config_set("cluster-replica-no-failover", "yes")
    # Its data, however old by then, still qualifies it: else it could refuse for good.
    client.config_set(factor, "0")
    try:
        yield release
    finally:
        release()
        client.config_set(factor, validity)


def revoked_since(user: User, since: datetime) -> list[str]:
    """The cache keys of the families of `user` revoked since `since`."""
    return [
        family_cache_key(pk, user.pk)
        for pk in LoginFamily.objects.filter(user=user, revoked_at__gte=since).values_list(
            "pk", flat=True
        )
    ]


def wait_marked_revoked(stack: ClusterStack, keys: list[str], timeout: float = 10.0) -> None:
    """Poll the cluster until it marks every family of `keys` revoked; else fail with its view."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with stack.cache() as cache:
                values = cache.get_many(keys)
        except Exception as error:  # the client of this process may still see the old primary
            values = {"error": repr(error)}
        if values == dict.fromkeys(keys, REVOKED):
            return
        assert time.monotonic() < deadline, f"not marked revoked in the cluster: {values}"
        time.sleep(0.05)


# How many users are made, at most, to find one whose login no push channel hears die.
USERS_TRIED = 30


def user_on_an_unheard_primary(
    stack: ClusterStack, first: User, make_user: Callable[..., User], agents: list[StackClient]
) -> User:
    """`first`, else a user made for it, whose login's keys live on a primary that no
    instance's push channel listens to: when that primary dies, only the change of the slots'
    owners tells the channels, not their own connection. Under `strict`, none listens.
    """
    if stack.revocation == "push":
        # The one process of each instance subscribes at its first read of a mirrored entry.
        for base in stack.urls:
            agent = logged_in("jwt-header", base, first, agents)
            assert agent.profile(base).status_code == 200
            logged_out(agent, base, agents)
        assert eventually(lambda: sum(stack.listeners().values()) == len(stack.urls), within=5)
    heard = set(stack.listeners())
    user = first
    for n in range(USERS_TRIED):
        if stack.node_of(user_cache_key(user.pk)).address not in heard:
            return user
        user = make_user(f"user{n}")
    raise AssertionError(f"no user's login on a primary but those heard: {heard}")


def test_killing_a_primary_loses_no_revocation_and_logs_nobody_out(
    revoking_cluster: ClusterStack,
    stack_user: User,
    make_user: Callable[..., User],
    agents: list[StackClient],
) -> None:
    stack = revoking_cluster
    user = user_on_an_unheard_primary(stack, stack_user, make_user, agents)
    started = timezone.now()
    cluster = stack.cluster
    primary = stack.node_of(user_cache_key(user.pk))
    replica = cluster.replica_of(primary)
    kept = [logged_in(mode, base, user, agents) for mode in MODES for base in stack.urls]
    doomed = [logged_in(mode, stack.a.url, user, agents) for mode in MODES]
    assert_authenticated(kept + doomed, stack.urls)
    revoked_before = [
        logged_out(logged_in(mode, stack.b.url, user, agents), stack.a.url, agents)
        for mode in MODES
    ]
    assert_refused(revoked_before, stack.urls)
    # The cluster holds the live state of every login not yet revoked, the doomed ones too; and
    # the replica, once it caught up, every state and mark: it would serve them after a failover.
    live = [
        family_cache_key(pk, user.pk)
        for pk in LoginFamily.objects.filter(user=user, revoked_at=None).values_list(
            "pk", flat=True
        )
    ]
    with stack.cache() as cache:
        states = cache.get_many(live)
    assert len(live) == len(kept + doomed)
    assert all(family_state_from_cache(states.get(key)) for key in live), states
    if stack.revocation == "push":
        # Every login served from memory: what the instances keep serving unless they hear of
        # a revocation.
        def requests() -> None:
            assert_authenticated(kept + doomed, stack.urls)
            assert_refused(revoked_before, stack.urls)

        assert eventually(lambda: stack.sent_by(requests) == {}, within=5)
    cluster.wait_replicated()

    try:
        with failover_held(replica) as release:
            cluster.kill(primary)
            # The slot has no primary: the instances fall back to the database, or under `push`
            # serve what they kept, their channels on live nodes.
            assert_authenticated(kept + doomed, stack.urls)
            assert_refused(revoked_before, stack.urls)
            failing_over = timezone.now()
            # Revoked in the database; the mark for the cluster fails with the slot.
            revoked_during = [logged_out(agent, stack.b.url, agents) for agent in doomed]
            assert_refused(revoked_during, stack.urls)
            assert_authenticated(kept, stack.urls)
            assert replica.role() == "slave", "the slot had no primary all along"
            release()
            cluster.wait_promoted(replica)

        # With no request to any instance, their recovery marks the families revoked meanwhile
        # in the promoted replica, which still holds their live states from before.
        during = revoked_since(user, failing_over)
        assert len(during) == len(doomed)
        wait_marked_revoked(stack, revoked_since(user, started))
        assert_authenticated(kept, stack.urls)
        assert_refused(revoked_before + revoked_during, stack.urls)
    finally:
        # The old primary comes back as its successor's replica: a whole cluster for what follows.
        cluster.heal()
    assert primary.role() == "slave"
    assert_authenticated(kept, stack.urls)
    assert_refused(revoked_before + revoked_during, stack.urls)
