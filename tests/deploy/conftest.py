"""Fixtures of the deployment files: the compose file as written, and as Compose resolves it."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
# Stand-ins for the secrets the compose file requires; never used to run anything.
REQUIRED_ENV = {
    "SECRET_KEY": "s" * 50,
    "JWT_SIGNING_KEY": "j" * 48,
    "MFA_ENCRYPTION_KEY": "m" * 43 + "=",
    "POSTGRES_PASSWORD": "p" * 24,
    "ALLOWED_HOSTS": "example.com",
    "FRONTEND_URL": "https://example.com/",
}


def compose_config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `docker-compose config` on the compose file with exactly `env` (no `.env` file)."""
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    return subprocess.run(
        ["docker-compose", "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config"],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def has_docker_compose() -> bool:
    """Whether Compose's own parser (`docker-compose`) is installed."""
    return shutil.which("docker-compose") is not None


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as YAML reads it, anchors merged."""
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema, vendored in deploy/."""
    loaded = json.loads((ROOT / "deploy" / "compose-spec.json").read_text())
    assert isinstance(loaded, dict)
    return loaded
