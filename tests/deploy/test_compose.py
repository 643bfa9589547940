"""docker-compose.yml is valid Compose and runs the intended topology."""

import ipaddress
import re
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import yaml

from tests.conftest import require_service
from tests.deploy.conftest import REQUIRED_ENV, ROOT, compose_config, has_docker_compose

APP_INSTANCES = ("app1", "app2")


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment list as a mapping."""
    return dict(item.split("=", 1) for item in service["environment"])


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
    for name in APP_INSTANCES:
        env = resolved["services"][name]["environment"]
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
    env = environment(compose["services"]["app1"])
    assert env["SECRET_KEY"] == "${SECRET_KEY:?set SECRET_KEY}"
    assert env["JWT_SIGNING_KEY"] == "${JWT_SIGNING_KEY:?set JWT_SIGNING_KEY}"
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
    assert env["ALLOWED_HOSTS"] == "${ALLOWED_HOSTS:?set ALLOWED_HOSTS}"


def test_two_app_instances_run_gunicorn_after_the_migration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["gunicorn", "--config", "deploy/gunicorn.conf.py"]' in dockerfile
    for name in APP_INSTANCES:
        service = services[name]
        assert "entrypoint" not in service
        assert "command" not in service
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert service["depends_on"]["redis"] == {"condition": "service_healthy"}
        env = environment(service)
        assert env["DATABASE_URL"].startswith("postgres://dualauth:")
        assert env["DATABASE_URL"].endswith("@postgres:5432/dualauth")
        assert env["REDIS_URL"] == "redis://redis:6379/0"
    app_services = [name for name, s in services.items() if "build" in s and "entrypoint" not in s]
    assert sorted(app_services) == list(APP_INSTANCES)


def test_app_instances_are_health_checked_on_the_health_endpoint(compose: dict[str, Any]) -> None:
    probe = (ROOT / "deploy" / "healthcheck.py").read_text()
    assert "http://127.0.0.1:8000/api/health/" in probe
    for name in APP_INSTANCES:
        healthcheck = compose["services"][name]["healthcheck"]
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


def test_nginx_publishes_8000_in_front_of_both_instances(compose: dict[str, Any]) -> None:
    nginx = compose["services"]["nginx"]
    assert nginx["ports"] == ["${PORT:-8000}:8000"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    for name in APP_INSTANCES:
        assert nginx["depends_on"][name] == {"condition": "service_healthy"}
        assert "ports" not in compose["services"][name]
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"server app1:8000\b", conf)
    assert re.search(r"server app2:8000\b", conf)
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "proxy_set_header X-Forwarded-Proto $forwarded_proto;" in conf
    assert "listen 8000;" in conf


def test_account_mail_goes_to_mailpit_unless_a_relay_is_named(compose: dict[str, Any]) -> None:
    mailpit = compose["services"]["mailpit"]
    assert re.fullmatch(r"axllent/mailpit:v1(\.\d+)+", mailpit["image"])
    assert mailpit["healthcheck"]["test"] == ["CMD", "/mailpit", "readyz"]
    # The UI shows live keys: on this machine's loopback only.
    assert mailpit["ports"] == ["127.0.0.1:${MAILPIT_PORT:-8025}:8025"]
    for name in APP_INSTANCES:
        env = environment(compose["services"][name])
        assert env["EMAIL_HOST"] == "${EMAIL_HOST:-mailpit}"
        assert env["EMAIL_PORT"] == "${EMAIL_PORT:-1025}"
        assert {"EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS"} <= set(env)
        assert {"DEFAULT_FROM_EMAIL", "FRONTEND_URL", "EMAIL_VERIFICATION"} <= set(env)


def test_the_app_trusts_forwarded_headers_from_nginx_only(compose: dict[str, Any]) -> None:
    nginx_address = ipaddress.ip_address(
        compose["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    )
    subnet = ipaddress.ip_network(compose["networks"]["default"]["ipam"]["config"][0]["subnet"])
    assert nginx_address in subnet
    for name in APP_INSTANCES:
        trusted = ipaddress.ip_network(environment(compose["services"][name])["TRUSTED_PROXIES"])
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
