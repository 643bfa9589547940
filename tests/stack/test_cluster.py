"""Two instances on one Redis Cluster: a password change and logout-all reach both, a request
reads the cluster once, and a primary's crash logs nobody out and loses no revocation.

The scenarios every deployment shares (a login, a logout, a throttle across instances) run
on the cluster too, in test_instances.py."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from common.models import LoginFamily
from common.selectors import REVOKED, family_cache_key, family_state_from_cache, user_cache_key
from tests.conftest import PASSWORD
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
# Commands a client sends to manage its connections, and a replica to its primary: no reads.
HOUSEKEEPING = ("info", "replconf", "ping", "cluster", "client", "command", "hello", "readonly")


def test_a_password_change_and_logout_all_on_one_instance_reach_every_login_on_both(
    cluster_stack: ClusterStack, stack_user: User, agents: list[StackClient]
) -> None:
    everyone = [
        logged_in(mode, base, stack_user, agents) for mode in MODES for base in cluster_stack.urls
    ]
    assert_authenticated(everyone, cluster_stack.urls)
    changer, others = everyone[0], everyone[1:]
    changed = changer.request(
        "POST",
        f"{cluster_stack.b.url}/api/password/",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204, changed.text
    assert_refused(others, cluster_stack.urls)
    assert_authenticated([changer], cluster_stack.urls)
    assert changer.logout_all(cluster_stack.a.url).status_code == 204
    assert_refused([changer], cluster_stack.urls)


@pytest.mark.parametrize("mode", MODES)
def test_a_request_reads_the_cluster_once(
    cluster_stack: ClusterStack, stack_user: User, agents: list[StackClient], mode: str
) -> None:
    agent = logged_in(mode, cluster_stack.a.url, stack_user, agents)
    for base in cluster_stack.urls:
        assert agent.profile(base).status_code == 200
    cluster_stack.cluster.wait_replicated()
    before = commands(cluster_stack.cluster.nodes)
    assert agent.profile(cluster_stack.b.url).status_code == 200
    after = commands(cluster_stack.cluster.nodes)
    sent = {
        (node, name): count - before.get((node, name), 0)
        for (node, name), count in after.items()
        if count != before.get((node, name), 0)
    }
    # Every key of the login (family, user, session) in one slot: one MGET, to its node alone.
    node = cluster_stack.node_of(user_cache_key(stack_user.pk))
    assert sent == {(node.address, "mget"): 1}


def commands(nodes: list[NodeServer]) -> dict[tuple[str, str], int]:
    """How often each live node ran each command that reads or writes keys, so far."""
    counts = {}
    for node in nodes:
        if node.live:
            for name, stats in node.client().info("commandstats").items():
                command = name.removeprefix("cmdstat_")
                if command.split("|")[0] not in HOUSEKEEPING:
                    counts[node.address, command] = int(stats["calls"])
    return counts


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


def test_killing_a_primary_loses_no_revocation_and_logs_nobody_out(
    cluster_stack: ClusterStack, stack_user: User, agents: list[StackClient]
) -> None:
    started = timezone.now()
    cluster = cluster_stack.cluster
    primary = cluster_stack.node_of(user_cache_key(stack_user.pk))
    replica = cluster.replica_of(primary)
    kept = [
        logged_in(mode, base, stack_user, agents) for mode in MODES for base in cluster_stack.urls
    ]
    doomed = [logged_in(mode, cluster_stack.a.url, stack_user, agents) for mode in MODES]
    assert_authenticated(kept + doomed, cluster_stack.urls)
    revoked_before = [
        logged_out(
            logged_in(mode, cluster_stack.b.url, stack_user, agents), cluster_stack.a.url, agents
        )
        for mode in MODES
    ]
    assert_refused(revoked_before, cluster_stack.urls)
    # The cluster holds the live state of every login not yet revoked, the doomed ones too; and
    # the replica, once it caught up, every state and mark: it would serve them after a failover.
    live = [
        family_cache_key(pk, stack_user.pk)
        for pk in LoginFamily.objects.filter(user=stack_user, revoked_at=None).values_list(
            "pk", flat=True
        )
    ]
    with cluster_stack.cache() as cache:
        states = cache.get_many(live)
    assert len(live) == len(kept + doomed)
    assert all(family_state_from_cache(states.get(key)) for key in live), states
    cluster.wait_replicated()

    try:
        with failover_held(replica) as release:
            cluster.kill(primary)
            # The slot has no primary: the instances fall back to the database.
            assert_authenticated(kept + doomed, cluster_stack.urls)
            assert_refused(revoked_before, cluster_stack.urls)
            failing_over = timezone.now()
            # Revoked in the database; the mark for the cluster fails with the slot.
            revoked_during = [logged_out(agent, cluster_stack.b.url, agents) for agent in doomed]
            assert_refused(revoked_during, cluster_stack.urls)
            assert_authenticated(kept, cluster_stack.urls)
            assert replica.role() == "slave", "the slot had no primary all along"
            release()
            cluster.wait_promoted(replica)

        # With no request to any instance, their recovery marks the families revoked meanwhile
        # in the promoted replica, which still holds their live states from before.
        during = revoked_since(stack_user, failing_over)
        assert len(during) == len(doomed)
        wait_marked_revoked(cluster_stack, revoked_since(stack_user, started))
        assert_authenticated(kept, cluster_stack.urls)
        assert_refused(revoked_before + revoked_during, cluster_stack.urls)
    finally:
        # The old primary comes back as its successor's replica: a whole cluster for what follows.
        cluster.heal()
    assert primary.role() == "slave"
    assert_authenticated(kept, cluster_stack.urls)
    assert_refused(revoked_before + revoked_during, cluster_stack.urls)
