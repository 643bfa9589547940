"""docker-compose.yml is valid Compose and runs the intended topology."""

import ipaddress
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import yaml
from prometheus_client import REGISTRY

from tests.conftest import require_service
from tests.deploy.conftest import REQUIRED_ENV, ROOT, compose_config, has_docker_compose
from tests.stack.cluster import NodeServer, node_ports, wait_for

APP = "app"
# The first nginx whose upstream servers can `resolve` (again, as instances come and go).
NGINX_RESOLVE_SINCE = (1, 27, 3)
CLUSTER_INIT = "redis-cluster-init"


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment list as a mapping."""
    return dict(item.split("=", 1) for item in service["environment"])


def published(port: str | dict[str, Any]) -> tuple[str, str]:
    """The host address and the container port of a published port, in either syntax."""
    # Compose v1 keeps the short syntax; v2 expands it.
    if isinstance(port, str):
        host_ip, _, mapping = port.partition(":")
        return host_ip, mapping.rsplit(":", 1)[1].split("/")[0]
    return port.get("host_ip", ""), str(port["target"])


def cluster_nodes(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The cluster profile's Redis nodes, by service name."""
    return {
        name: service
        for name, service in services.items()
        if "cluster" in service.get("profiles", []) and name != CLUSTER_INIT
    }


def node_address(service: dict[str, Any]) -> str:
    """A node's fixed address and Redis port, as the cluster names it."""
    return f"{service['networks']['default']['ipv4_address']}:6379"


def test_compose_file_matches_the_compose_specification_schema(
    compose: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    validator = jsonschema.Draft201909Validator(compose_schema)
    errors = [error.message for error in validator.iter_errors(compose)]
    assert errors == []


def test_compose_parses_the_file_and_interpolates_the_secrets(tmp_path: Path) -> None:
    require_service(has_docker_compose(), "docker-compose is not installed")
    result = compose_config(tmp_path, REQUIRED_ENV)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    env = resolved["services"][APP]["environment"]
    assert env["SECRET_KEY"] == REQUIRED_ENV["SECRET_KEY"]
    assert env["JWT_SIGNING_KEY"] == REQUIRED_ENV["JWT_SIGNING_KEY"]
    assert env["MFA_ENCRYPTION_KEY"] == REQUIRED_ENV["MFA_ENCRYPTION_KEY"]
    assert env["DEBUG"] == "false"
    # Account mail goes to Mailpit unless a relay is named.
    assert (env["EMAIL_HOST"], env["EMAIL_PORT"]) == ("mailpit", "1025")


def test_compose_refuses_to_run_without_each_required_secret(tmp_path: Path) -> None:
    require_service(has_docker_compose(), "docker-compose is not installed")
    for name in REQUIRED_ENV:
        result = compose_config(tmp_path, {k: v for k, v in REQUIRED_ENV.items() if k != name})
        assert result.returncode != 0
        assert f"set {name}" in result.stderr


def test_every_secret_is_required_not_defaulted(compose: dict[str, Any]) -> None:
    env = environment(compose["services"][APP])
    assert env["SECRET_KEY"] == "${SECRET_KEY:?set SECRET_KEY}"
    assert env["JWT_SIGNING_KEY"] == "${JWT_SIGNING_KEY:?set JWT_SIGNING_KEY}"
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
    assert env["ALLOWED_HOSTS"] == "${ALLOWED_HOSTS:?set ALLOWED_HOSTS}"
    assert env["FRONTEND_URL"] == "${FRONTEND_URL:?set FRONTEND_URL}"


def test_app_instances_run_gunicorn_after_the_migration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["gunicorn", "--config", "deploy/gunicorn.conf.py"]' in dockerfile
    service = services[APP]
    assert "entrypoint" not in service
    assert "command" not in service
    assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert service["depends_on"]["redis"] == {"condition": "service_healthy"}
    env = environment(service)
    assert env["DATABASE_URL"].startswith("postgres://dualauth:")
    assert env["DATABASE_URL"].endswith("@postgres:5432/dualauth")
    assert env["REDIS_URL"] == "${COMPOSE_REDIS_URL:-redis://redis:6379/0}"
    # One service, scaled: never a second copy of it under another name.
    app_services = [name for name, s in services.items() if "build" in s and "entrypoint" not in s]
    assert app_services == [APP]
    assert service["deploy"]["replicas"] >= 2


def test_the_app_service_scales_with_nothing_fixed_per_instance(compose: dict[str, Any]) -> None:
    service = compose["services"][APP]
    # Each of these would make a second instance collide with the first.
    assert {"container_name", "hostname", "ports", "mac_address"}.isdisjoint(service)
    for network in (service.get("networks") or {}).values():
        assert "ipv4_address" not in (network or {})


def test_nginx_balances_every_instance_docker_dns_names_app(compose: dict[str, Any]) -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    # Docker's embedded DNS, asked again every few seconds rather than once at start.
    assert re.search(r"^resolver 127\.0\.0\.11 valid=\d+s\b", conf, re.MULTILINE)
    upstream = re.search(r"upstream dualauth \{(.*?)\}", conf, re.DOTALL)
    assert upstream
    servers = re.findall(r"^\s*server (.+);$", upstream[1], re.MULTILINE)
    assert servers == ["app:8000 resolve max_fails=3 fail_timeout=10s"]
    # `resolve` keeps the addresses in shared memory.
    assert re.search(r"^\s*zone dualauth \d+k;$", upstream[1], re.MULTILINE)
    image = re.fullmatch(
        r"nginx:(\d+)\.(\d+)(?:\.(\d+))?-alpine", compose["services"]["nginx"]["image"]
    )
    assert image
    # A tag without a patch number is that branch's newest release.
    version = (int(image[1]), int(image[2]), int(image[3] or 999))
    assert version >= NGINX_RESOLVE_SINCE


def test_app_instances_are_health_checked_on_the_health_endpoint(compose: dict[str, Any]) -> None:
    probe = (ROOT / "deploy" / "healthcheck.py").read_text()
    assert "http://127.0.0.1:8000/api/health/" in probe
    healthcheck = compose["services"][APP]["healthcheck"]
    assert healthcheck["test"] == ["CMD", "python", "deploy/healthcheck.py"]


def test_migrate_is_a_one_shot_service_after_postgres_is_healthy(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert migrate["restart"] == "no"
    command = " ".join(migrate["entrypoint"])
    assert "manage.py migrate --noinput" in command
    assert "manage.py collectstatic --noinput" in command
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_postgres_and_redis_are_pinned_and_health_checked(compose: dict[str, Any]) -> None:
    postgres, redis = compose["services"]["postgres"], compose["services"]["redis"]
    assert re.fullmatch(r"postgres:16(\.\d+)*(-alpine)?", postgres["image"])
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert re.fullmatch(r"redis:7(\.\d+)*(-alpine)?", redis["image"])
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_state_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    volumes = compose["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    assert {"pgdata", "static"} <= set(volumes)
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            assert source in volumes or source.startswith("./deploy/"), mount


def test_nginx_publishes_8000_in_front_of_the_instances(compose: dict[str, Any]) -> None:
    nginx = compose["services"]["nginx"]
    assert nginx["ports"] == ["${PORT:-8000}:8000"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    assert nginx["depends_on"][APP] == {"condition": "service_healthy"}
    assert "ports" not in compose["services"][APP]
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_pass http://dualauth;" in conf
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "proxy_set_header X-Forwarded-Proto $forwarded_proto;" in conf
    assert "listen 8000;" in conf


def test_account_mail_goes_to_mailpit_unless_a_relay_is_named(compose: dict[str, Any]) -> None:
    mailpit = compose["services"]["mailpit"]
    assert re.fullmatch(r"axllent/mailpit:v1(\.\d+)+", mailpit["image"])
    assert mailpit["healthcheck"]["test"] == ["CMD", "/mailpit", "readyz"]
    # The UI shows live keys: on this machine's loopback only.
    assert mailpit["ports"] == ["127.0.0.1:${MAILPIT_PORT:-8025}:8025"]
    env = environment(compose["services"][APP])
    assert env["EMAIL_HOST"] == "${EMAIL_HOST:-mailpit}"
    assert env["EMAIL_PORT"] == "${EMAIL_PORT:-1025}"
    assert {"EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS"} <= set(env)
    assert {"DEFAULT_FROM_EMAIL", "FRONTEND_URL", "EMAIL_VERIFICATION"} <= set(env)


def test_a_worker_sends_the_mail_the_app_queues_in_the_database(compose: dict[str, Any]) -> None:
    services = compose["services"]
    worker = services["worker"]
    assert worker["entrypoint"] == ["python", "manage.py", "db_worker", "--no-reload"]
    assert worker["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    # The same image and settings as the app: the mail it sends is the app's.
    assert environment(worker) == environment(services[APP])
    assert environment(services[APP])["TASK_BACKEND"] == "database"


def test_the_app_trusts_forwarded_headers_from_nginx_only(compose: dict[str, Any]) -> None:
    nginx_address = ipaddress.ip_address(
        compose["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    )
    ipam = compose["networks"]["default"]["ipam"]["config"][0]
    assert nginx_address in ipaddress.ip_network(ipam["subnet"])
    # Outside the addresses Docker hands out: no instance, however many, can take nginx's.
    dynamic = ipaddress.IPv4Network(ipam["ip_range"])
    assert dynamic.subnet_of(ipaddress.IPv4Network(ipam["subnet"]))
    assert nginx_address not in dynamic
    trusted = ipaddress.ip_network(environment(compose["services"][APP])["TRUSTED_PROXIES"])
    assert nginx_address in trusted
    assert trusted.num_addresses == 1


def test_the_image_runs_as_a_non_root_user_from_hash_locked_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nFROM python:3.11-slim\n" in dockerfile
    assert "pip install --require-hashes -r requirements/base.lock" in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users
    assert users[-1] not in {"root", "0"}
    assert dockerfile.index("collectstatic") < dockerfile.rindex("USER ")


def test_secrets_and_local_state_stay_out_of_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv", "db.sqlite3"} <= set(ignored)


def test_the_scale_profile_adds_prometheus_and_grafana_on_loopback_only(
    tmp_path: Path, compose: dict[str, Any]
) -> None:
    require_service(has_docker_compose(), "docker-compose is not installed")
    result = compose_config(tmp_path, {**REQUIRED_ENV, "COMPOSE_PROFILES": "scale"})
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name, port in (("prometheus", 9090), ("grafana", 3000)):
        # Only `--profile scale` (or COMPOSE_PROFILES=scale) starts them.
        assert services[name]["profiles"] == ["scale"]
        [ports] = services[name]["ports"]
        assert published(ports) == ("127.0.0.1", str(port))
    grafana = compose["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/dualauth.json:/var/lib/grafana/dashboards/dualauth.json:ro" in grafana
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana


def test_prometheus_scrapes_every_app_instance_from_the_one_address_allowed(
    compose: dict[str, Any],
) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["dns_sd_configs"] == [
        {"names": [APP], "type": "A", "port": 8000, "refresh_interval": "15s"}
    ]
    prometheus = ipaddress.ip_address(
        compose["services"]["prometheus"]["networks"]["default"]["ipv4_address"]
    )
    ipam = compose["networks"]["default"]["ipam"]["config"][0]
    assert prometheus not in ipaddress.ip_network(ipam["ip_range"])
    allowed = environment(compose["services"][APP])["METRICS_ALLOWED_NETWORKS"].split(",")
    outside_loopback = [
        ipaddress.ip_network(n) for n in allowed if not ipaddress.ip_network(n).is_loopback
    ]
    assert outside_loopback == [ipaddress.ip_network(f"{prometheus}/32")]


def test_the_dashboard_charts_every_metric_dualauth_exports() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dualauth.json").read_text())
    queries = " ".join(
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    )
    for metric in REGISTRY.collect():
        if metric.name.startswith("dualauth_") and metric.name != "dualauth_audit_events":
            assert metric.name in queries
    assert "histogram_quantile(0.99" in queries


def test_without_a_profile_the_app_uses_the_one_redis(tmp_path: Path) -> None:
    require_service(has_docker_compose(), "docker-compose is not installed")
    result = compose_config(tmp_path, REQUIRED_ENV)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    # Compose v1 lists the services of every profile; v2 only those it would start.
    started = {name: s for name, s in services.items() if not s.get("profiles")}
    assert [name for name, s in started.items() if s["image"].startswith("redis:")] == ["redis"]
    assert services[APP]["environment"]["REDIS_URL"] == "redis://redis:6379/0"


def test_the_cluster_profile_runs_six_pinned_health_checked_cache_nodes(
    compose: dict[str, Any],
) -> None:
    nodes = cluster_nodes(compose["services"])
    assert len(nodes) == 6
    for node in nodes.values():
        assert node["profiles"] == ["cluster"]
        assert re.fullmatch(r"redis:7(\.\d+)*(-alpine)?", node["image"])
        assert node["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
        command = node["command"]
        assert command[0] == "redis-server"
        options = dict(zip(command[1::2], command[2::2], strict=True))
        assert options["--cluster-enabled"] == "yes"
        # A cache only, like the redis service: nothing on disk but each node's nodes.conf.
        assert (options["--save"], options["--appendonly"]) == ("", "no")
        assert "volumes" not in node


def test_the_cluster_nodes_have_fixed_addresses_clear_of_the_app_instances_and_the_rest(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    ipam = compose["networks"]["default"]["ipam"]["config"][0]
    subnet, dynamic = ipaddress.ip_network(ipam["subnet"]), ipaddress.ip_network(ipam["ip_range"])
    fixed = [
        ipaddress.ip_address(network["ipv4_address"])
        for service in services.values()
        for network in (service.get("networks") or {}).values()
    ]
    nodes = [
        ipaddress.ip_address(node_address(n).split(":")[0])
        for n in cluster_nodes(services).values()
    ]
    assert len(nodes) == 6
    assert len(set(fixed)) == len(fixed)
    for address in nodes:
        assert address in subnet
        assert address not in dynamic


def test_the_cluster_init_creates_three_primaries_with_a_replica_each_once_all_are_healthy(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    init = services[CLUSTER_INIT]
    nodes = cluster_nodes(services)
    assert init["profiles"] == ["cluster"]
    assert init["restart"] == "no"
    assert init["depends_on"] == {name: {"condition": "service_healthy"} for name in nodes}
    assert init["entrypoint"][:2] == ["sh", "-c"]
    create = re.search(r"redis-cli --cluster create ((?:\S+:6379 )+)(.*)", init["entrypoint"][2])
    assert create
    assert create[1].split() == [node_address(node) for node in nodes.values()]
    assert create[2].split() == ["--cluster-replicas", "1", "--cluster-yes"]


def test_the_cluster_init_makes_a_working_cluster_once_and_then_leaves_it_be(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    require_service(
        shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None,
        "redis-server and redis-cli are not installed",
    )
    services = compose["services"]
    script = services[CLUSTER_INIT]["entrypoint"][2]
    # The same script, run against six local nodes in place of the compose network's.
    nodes = [NodeServer(port, tmp_path) for port in node_ports(6)]
    for service, node in zip(cluster_nodes(services).values(), nodes, strict=True):
        script = script.replace(node_address(service), node.address)
    try:
        for node in nodes:
            node.start()
        runs = [
            subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
            for _ in range(2)
        ]
        assert [run.returncode for run in runs] == [0, 0], [run.stdout + run.stderr for run in runs]
        assert "[OK] All 16384 slots covered." in runs[0].stdout
        assert runs[1].stdout == ""

        def shape() -> list[str]:
            view = nodes[0].view()
            primaries = {entry["node_id"] for entry in view.values() if "master" in entry["flags"]}
            replicas = [entry["master_id"] for entry in view.values() if "slave" in entry["flags"]]
            if len(primaries) == 3 and sorted(replicas) == sorted(primaries):
                return []
            return [f"{len(primaries)} primaries, replicas of {replicas}"]

        # The nodes learn who replicates whom by gossip, just after the creation.
        wait_for(shape, timeout=10, what="three primaries with a replica each")
    finally:
        for node in nodes:
            node.stop()


def test_the_cluster_profile_points_the_app_at_its_nodes_and_publishes_nothing(
    tmp_path: Path,
) -> None:
    require_service(has_docker_compose(), "docker-compose is not installed")
    # The command the profile's comment documents.
    [url] = re.findall(
        r"COMPOSE_REDIS_URL=(redis\+cluster://\S+)", (ROOT / "docker-compose.yml").read_text()
    )
    # REDIS_URL of a developer's shell or .env (for `make test`) does not reach the containers.
    env = {
        **REQUIRED_ENV,
        "COMPOSE_PROFILES": "cluster",
        "COMPOSE_REDIS_URL": url,
        "REDIS_URL": "redis://127.0.0.1:6379/1",
    }
    result = compose_config(tmp_path, env)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert services[APP]["environment"]["REDIS_URL"] == url
    nodes = cluster_nodes(services)
    seeds = url.removeprefix("redis+cluster://").split(",")
    assert seeds == [node_address(node) for node in nodes.values()][:3]
    for name in [*nodes, CLUSTER_INIT]:
        for port in services[name].get("ports", []):
            assert published(port)[0] == "127.0.0.1", (name, port)
