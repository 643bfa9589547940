"""A throwaway Redis Cluster on 127.0.0.1: each node a redis-server of its own, killed by PID."""

import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from bench.processes import ServerProcess, free_port

# Redis listens for its cluster bus this far above the client port.
BUS_PORT_OFFSET = 10000
# How long a node may be unreachable before it is failing: small, for failovers in seconds.
NODE_TIMEOUT_MS = 500
# Commands a client sends to manage its connections, and a replica to its primary: no reads.
HOUSEKEEPING = ("info", "replconf", "ping", "cluster", "client", "command", "hello", "readonly")


def port_is_free(port: int) -> bool:
    """Whether nobody listens on `port` of 127.0.0.1 right now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def node_ports(count: int) -> list[int]:
    """`count` distinct free ports whose cluster bus ports are free too."""
    taken: set[int] = set()
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        bus = port + BUS_PORT_OFFSET
        if bus <= 65535 and not {port, bus} & taken and port_is_free(bus):
            ports.append(port)
            taken |= {port, bus}
    return ports


class NodeServer(ServerProcess):
    """One cluster-enabled redis-server without persistence; its nodes.conf survives a kill."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.log_path = directory / f"redis-{port}.log"
        self.paused = False

    def __repr__(self) -> str:
        return f"<NodeServer {self.address}>"

    @property
    def address(self) -> str:
        """host:port, as the cluster names this node."""
        return f"127.0.0.1:{self.port}"

    @property
    def live(self) -> bool:
        """Whether the node runs and is not paused."""
        return self.process is not None and not self.paused

    def client(self) -> redis.Redis:
        """A client of this node alone."""
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def start(self, timeout: float = 10.0) -> "NodeServer":
        """Start the node (again, with the nodes.conf it left) and wait until it answers."""
        self._launch(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(self.directory / f"nodes-{self.port}.conf"),
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                "--save",
                "",
                "--appendonly",
                "no",
                # Replicas sync at once rather than after 5 s of waiting for more of them.
                "--repl-diskless-sync-delay",
                "0",
                "--daemonize",
                "no",
                "--dir",
                str(self.directory),
            ],
            self._pong,
            timeout=timeout,
            interval=0.05,
        )
        self.paused = False
        return self

    def role(self) -> str:
        """The node's role, "master" or "slave", as it says itself."""
        return str(self.client().info("replication")["role"])

    def view(self) -> dict[str, dict[str, Any]]:
        """The cluster as this node sees it (CLUSTER NODES), by node address."""
        nodes: dict[str, dict[str, Any]] = self.client().cluster("NODES")
        return nodes

    def _pong(self) -> bool | None:
        """True once the node answers a PING; None before."""
        try:
            return True if self.client().ping() else None
        except redis.ConnectionError:
            return None


def roles(view: dict[str, Any]) -> set[str]:
    """The roles among a CLUSTER NODES entry's flags."""
    return set(view["flags"].split(",")) & {"master", "slave"}


def holds(view: dict[str, Any], slot: int) -> bool:
    """Whether a CLUSTER NODES entry serves `slot` as a primary."""
    return "master" in roles(view) and any(
        int(bounds[0]) <= slot <= int(bounds[-1]) for bounds in view["slots"]
    )


def wait_for(ask: Callable[[], list[str]], *, timeout: float, what: str) -> None:
    """Poll `ask()`, the problems left, until there are none; else raise with the last ones."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            problems = ask()
        except redis.RedisError as error:
            problems = [repr(error)]
        if not problems:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"not {what} within {timeout} s: {problems}")
        time.sleep(0.05)


class ClusterServers:
    """`primaries` primaries and `replicas` replicas of each, on free ports of 127.0.0.1."""

    def __init__(self, directory: Path, *, primaries: int = 3, replicas: int = 1) -> None:
        self.directory = directory
        self.replicas = replicas
        self.nodes = [
            NodeServer(port, directory) for port in node_ports(primaries * (1 + replicas))
        ]
        self.seeds: list[NodeServer] = []

    @property
    def url(self) -> str:
        """redis+cluster:// naming the primaries as the cluster was created."""
        return "redis+cluster://" + ",".join(node.address for node in self.seeds)

    def client(self) -> RedisCluster:
        """A cluster client seeded with the primaries as created."""
        return RedisCluster(
            startup_nodes=[ClusterNode("127.0.0.1", node.port) for node in self.seeds],
            socket_timeout=2,
            socket_connect_timeout=2,
        )

    def start(self, timeout: float = 30.0) -> "ClusterServers":
        """Start every node, make them one cluster and wait until it is healthy; else stop."""
        try:
            for node in self.nodes:
                node.start()
            log = self.directory / "cluster-create.log"
            with log.open("ab") as output:
                subprocess.run(
                    [
                        "redis-cli",
                        "--cluster",
                        "create",
                        *(node.address for node in self.nodes),
                        "--cluster-replicas",
                        str(self.replicas),
                        "--cluster-yes",
                    ],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=timeout,
                )
            self.wait_healthy(timeout=timeout)
            self.seeds = [node for node in self.nodes if node.role() == "master"]
        except BaseException:
            # Interrupted or not, no node outlives a cluster that failed to come up.
            self.stop()
            raise
        return self

    def node_of(self, key: str) -> NodeServer:
        """The node serving `key`'s slot as a primary, as the first live node sees it."""
        slot = key_slot(key.encode())
        [address] = [a for a, entry in self._view().items() if holds(entry, slot)]
        return self._node(address)

    def replica_of(self, node: NodeServer) -> NodeServer:
        """The one replica of primary `node`, as the first live node sees it."""
        view = self._view()
        primary_id = view[node.address]["node_id"]
        [address] = [a for a, entry in view.items() if entry["master_id"] == primary_id]
        return self._node(address)

    def kill(self, node: NodeServer) -> None:
        """SIGKILL `node`, as a crash would, and reap it."""
        assert node.process is not None, f"{node} is not running"
        node.process.kill()
        node.process.wait()
        node.process = None
        node.paused = False

    def pause(self, node: NodeServer) -> None:
        """Freeze `node` (SIGSTOP): it holds its connections but answers nothing."""
        assert node.process is not None, f"{node} is not running"
        node.process.send_signal(signal.SIGSTOP)
        node.paused = True

    def resume(self, node: NodeServer) -> None:
        """Thaw a paused `node` (SIGCONT)."""
        assert node.process is not None, f"{node} is not running"
        node.process.send_signal(signal.SIGCONT)
        node.paused = False

    def restart(self, node: NodeServer, timeout: float = 15.0) -> None:
        """Start a killed `node` again and wait until the cluster has taken it back."""
        node.start()
        self.wait_healthy(timeout=timeout)

    def heal(self, timeout: float = 15.0) -> None:
        """Resume paused nodes, restart killed ones, and wait until the cluster is healthy."""
        for node in self.nodes:
            if node.paused:
                self.resume(node)
            elif node.process is None:
                node.start()
        self.wait_healthy(timeout=timeout)

    def wait_promoted(self, replica: NodeServer, timeout: float = 10.0) -> None:
        """Wait until `replica` is a primary and every live node agrees and reports ok."""

        def problems() -> list[str]:
            role = replica.role()
            return ([] if role == "master" else [f"{replica} is a {role}"]) + self._problems()

        wait_for(problems, timeout=timeout, what=f"{replica} promoted")

    def wait_healthy(self, timeout: float = 15.0) -> None:
        """Wait until the live nodes agree on a cluster that serves every slot."""
        wait_for(self._problems, timeout=timeout, what="healthy")

    def wait_replicated(self, timeout: float = 5.0) -> None:
        """Wait until every live replica has applied its primary's writes so far, on any connection.

        WAIT, but for writes that another client made (an app instance's).
        """
        targets = {
            node.address: int(node.client().info("replication")["master_repl_offset"])
            for node in self._live()
            if node.role() == "master"
        }

        def problems() -> list[str]:
            lagging = []
            for node in self._live():
                info = node.client().info("replication")
                if info["role"] == "slave":
                    primary = f"{info['master_host']}:{info['master_port']}"
                    if int(info["slave_repl_offset"]) < targets.get(primary, 0):
                        lagging.append(f"{node} behind {primary}")
            return lagging

        wait_for(problems, timeout=timeout, what="replicated")

    def commands(self) -> dict[tuple[str, str], int]:
        """How often each live node ran each command that reads or writes keys, so far, by node
        address and command name.
        """
        counts = {}
        for node in self._live():
            for name, stats in node.client().info("commandstats").items():
                command = name.removeprefix("cmdstat_")
                if command.split("|")[0] not in HOUSEKEEPING:
                    counts[node.address, command] = int(stats["calls"])
        return counts

    def commands_since(self, before: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
        """The commands each live node ran since `commands()` counted `before`."""
        return {
            key: count - before.get(key, 0)
            for key, count in self.commands().items()
            if count != before.get(key, 0)
        }

    def flushall(self) -> None:
        """Empty every live primary (and so, shortly, its replicas)."""
        for node in self._live():
            if node.role() == "master":
                node.client().flushall()

    def stop(self) -> None:
        """Stop every node by its PID, paused ones included."""
        for node in self.nodes:
            if node.paused:
                self.resume(node)
            node.stop()

    def _live(self) -> Iterable[NodeServer]:
        """The nodes that run and are not paused."""
        return (node for node in self.nodes if node.live)

    def _view(self) -> dict[str, dict[str, Any]]:
        """The cluster as the first live node sees it."""
        return next(iter(self._live())).view()

    def _node(self, address: str) -> NodeServer:
        """This harness's node at `address`."""
        [node] = [node for node in self.nodes if node.address == address]
        return node

    def _problems(self) -> list[str]:
        """What keeps the live nodes from agreeing on one cluster that serves every slot."""
        live = list(self._live())
        problems: list[str] = []
        agreed: dict[str, tuple[str, str, str]] = {}
        for node in live:
            info = node.client().cluster("INFO")
            if info["cluster_state"] != "ok":
                problems.append(f"{node}: cluster_state {info['cluster_state']}")
            if int(info["cluster_slots_ok"]) != REDIS_CLUSTER_HASH_SLOTS:
                problems.append(f"{node}: {info['cluster_slots_ok']} slots ok")
            if int(info["cluster_known_nodes"]) != len(self.nodes):
                problems.append(f"{node}: knows {info['cluster_known_nodes']} nodes")
            replication = node.client().info("replication")
            if replication["role"] == "slave" and replication["master_link_status"] != "up":
                problems.append(f"{node}: link to its primary {replication['master_link_status']}")
            view = node.view()
            for other in live:
                entry = view.get(other.address)
                if entry is None:
                    problems.append(f"{node} does not know {other}")
                    continue
                flags = set(entry["flags"].split(","))
                if flags & {"fail", "fail?", "handshake", "noaddr"} or not entry["connected"]:
                    problems.append(f"{node} sees {other} as {entry['flags']}")
                # Who is whose replica, and who holds which slots, by cluster ID.
                seen = (",".join(sorted(roles(entry))), entry["master_id"], str(entry["slots"]))
                if agreed.setdefault(entry["node_id"], seen) != seen:
                    problems.append(f"{node} disagrees about {other}: {seen}")
        return problems
