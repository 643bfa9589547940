"""The Redis Cluster harness: a real cluster comes up whole, fails over and takes nodes back."""

from collections.abc import Iterator

import pytest
from redis.crc import REDIS_CLUSTER_HASH_SLOTS

from tests.stack.cluster import ClusterServers

pytestmark = pytest.mark.server

KEYS = {f"harness-{i}": f"value-{i}" for i in range(200)}


@pytest.fixture(autouse=True)
def _fresh_stack_cache(redis_cluster: ClusterServers) -> Iterator[None]:
    # In place of the stack's: these tests need the cluster alone (no instances, no database),
    # whole and empty again after each of them.
    yield
    redis_cluster.heal()
    redis_cluster.flushall()


def test_the_cluster_comes_up_with_three_replicated_primaries_serving_every_slot(
    redis_cluster: ClusterServers,
) -> None:
    client = redis_cluster.client()
    primaries = sorted({f"{node.host}:{node.port}" for node in client.get_primaries()})
    assert len(primaries) == 3
    for address in primaries:
        [primary] = [node for node in redis_cluster.nodes if node.address == address]
        replica = redis_cluster.replica_of(primary)
        replication = replica.client().info("replication")
        assert (replication["master_port"], replication["master_link_status"]) == (
            primary.port,
            "up",
        )
        info = primary.client().cluster("INFO")
        assert (info["cluster_state"], info["cluster_size"]) == ("ok", "3")
        assert info["cluster_slots_ok"] == str(REDIS_CLUSTER_HASH_SLOTS)
    # The URL's nodes, whichever of them failed over since, lead to every primary.
    seeds = redis_cluster.url.removeprefix("redis+cluster://").split(",")
    shards = set()
    for seed in seeds:
        [node] = [node for node in redis_cluster.nodes if node.address == seed]
        replication = node.client().info("replication")
        shards.add(
            seed if replication["role"] == "master" else f"127.0.0.1:{replication['master_port']}"
        )
    assert len(seeds) == 3
    assert sorted(shards) == primaries
    client.mset_nonatomic(KEYS)
    # The keys spread over every primary.
    assert sorted({redis_cluster.node_of(key).address for key in KEYS}) == primaries
    assert client.mget_nonatomic(list(KEYS)) == [value.encode() for value in KEYS.values()]


def test_killing_a_primary_promotes_its_replica_and_keeps_its_replicated_keys(
    redis_cluster: ClusterServers,
) -> None:
    client = redis_cluster.client()
    client.mset_nonatomic(KEYS)
    redis_cluster.wait_replicated()
    primary = redis_cluster.node_of("harness-0")
    replica = redis_cluster.replica_of(primary)
    on_primary = [key for key in KEYS if redis_cluster.node_of(key) is primary]

    redis_cluster.kill(primary)
    redis_cluster.wait_promoted(replica)

    assert replica.role() == "master"
    assert {redis_cluster.node_of(key) for key in on_primary} == {replica}
    values = redis_cluster.client().mget_nonatomic(list(KEYS))
    assert values == [value.encode() for value in KEYS.values()]
    # The client that wrote, its primary gone, finds the new one by itself.
    assert client.set("harness-0", "after the failover")
    assert replica.client().get("harness-0") == b"after the failover"


def test_a_restarted_primary_rejoins_as_the_replica_of_its_successor(
    redis_cluster: ClusterServers,
) -> None:
    primary = redis_cluster.node_of("harness-0")
    replica = redis_cluster.replica_of(primary)
    redis_cluster.kill(primary)
    redis_cluster.wait_promoted(replica)

    redis_cluster.restart(primary)

    replication = primary.client().info("replication")
    assert (replication["role"], replication["master_port"]) == ("slave", replica.port)
    assert replication["master_link_status"] == "up"
    assert redis_cluster.replica_of(replica) is primary
    redis_cluster.client().set("harness-0", "after the rejoin")
    redis_cluster.wait_replicated()
    # What its successor takes, the rejoined node holds too, and serves to a reader of replicas.
    reader = primary.client().pipeline(transaction=False)
    reader.execute_command("READONLY").get("harness-0")
    assert reader.execute() == [True, b"after the rejoin"]


def test_a_paused_primary_is_replaced_and_steps_down_once_resumed(
    redis_cluster: ClusterServers,
) -> None:
    primary = redis_cluster.node_of("harness-0")
    replica = redis_cluster.replica_of(primary)
    redis_cluster.pause(primary)
    redis_cluster.wait_promoted(replica)

    redis_cluster.resume(primary)
    redis_cluster.wait_healthy()

    assert primary.role() == "slave"
    assert redis_cluster.node_of("harness-0") is replica
