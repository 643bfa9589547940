"""deploy/nginx.conf, run by a real nginx in front of two real instances."""

import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User

from bench.processes import first_answer, free_port, http_answer, process_start, process_stop
from tests.conftest import PASSWORD, require_service, require_shared_cache
from tests.deploy.conftest import ROOT
from tests.live import LiveServer

pytestmark = pytest.mark.server
ADDRESS_LIMIT = 3
# The upstream server Docker's DNS resolves to every instance of the `app` service.
APP_SERVER = re.compile(r"^( *)server app:8000 resolve([^;]*);$", re.MULTILINE)


@dataclass
class Proxy:
    """nginx with the deployed configuration, its upstreams pointed at two live servers."""

    url: str
    process: subprocess.Popen[bytes]
    instances: tuple[LiveServer, LiveServer]


def nginx_config(tmp: Path, port: int, instances: tuple[LiveServer, LiveServer]) -> Path:
    """deploy/nginx.conf with local upstreams and port, wrapped in a minimal main config.

    Where Docker's DNS would answer `app` with each instance's address, each live server
    is named instead, with the same parameters (this nginx may predate `resolve`).
    """
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site, found = APP_SERVER.subn(
        lambda match: "\n".join(
            f"{match[1]}server 127.0.0.1:{server.port}{match[2]};" for server in instances
        ),
        site,
    )
    assert found == 1
    site = re.sub(r"listen 8000;", f"listen 127.0.0.1:{port};", site)
    site = site.replace("alias /srv/static/;", f"alias {tmp}/static/;")
    (tmp / "static").mkdir()
    (tmp / "site.conf").write_text(site)
    main = tmp / "nginx.conf"
    main.write_text(
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\ndaemon off;\nevents {{}}\n"
        f"http {{\n  access_log {tmp}/access.log;\n"
        + "".join(
            f"  {kind}_temp_path {tmp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {tmp}/site.conf;\n}}\n"
    )
    return main


@pytest.fixture(scope="module")
def proxy(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """nginx on a free port in front of two instances that trust it, and it only."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    require_service(Path(nginx).exists(), "nginx is not installed")
    prefix = f"nginx-{uuid.uuid4().hex[:8]}"
    first, second = (
        LiveServer(
            workers=1,
            TRUSTED_PROXIES="127.0.0.1/32",
            LOGIN_FAILURES_PER_ADDRESS=str(ADDRESS_LIMIT),
            CACHE_KEY_PREFIX=prefix,
            GUNICORN_CMD_ARGS="--keep-alive=75",
        ).start()
        for _ in range(2)
    )
    instances = (first, second)
    tmp = tmp_path_factory.mktemp("nginx")
    port = free_port()
    config = nginx_config(tmp, port, instances)
    output = tmp / "output.log"
    process = process_start([nginx, "-c", str(config), "-p", str(tmp)], output)
    url = f"http://127.0.0.1:{port}"
    try:
        first_answer(
            process,
            lambda: http_answer(f"{url}/api/health/"),
            log_path=output,
            timeout=10,
            interval=0.05,
        )
        yield Proxy(url=url, process=process, instances=instances)
    finally:
        process_stop(process)
        for server in instances:
            server.stop()


def test_nginx_serves_the_api_from_both_instances(proxy: Proxy, live_user: User) -> None:
    assert httpx.get(f"{proxy.url}/api/health/").json()["status"] == "ok"
    with httpx.Client(base_url=proxy.url) as client:
        login = client.post(
            "/api/jwt/token/", json={"username": live_user.username, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        bearer = {"Authorization": f"Bearer {login.json()['access']}"}
        for _ in range(4):
            assert client.get("/api/jwt/profile/", headers=bearer).status_code == 200


def test_a_client_cannot_choose_its_address_through_nginx(proxy: Proxy, live_user: User) -> None:
    # nginx spreads the tries over both instances: only a shared cache adds their failures up.
    require_shared_cache()
    # Each try names another user (no username limit) and claims another address.
    with httpx.Client(base_url=proxy.url) as client:
        for attempt in range(ADDRESS_LIMIT):
            response = client.post(
                "/api/jwt/token/",
                json={"username": f"nobody{attempt}", "password": "wrong"},
                headers={"X-Forwarded-For": f"203.0.113.{attempt + 1}"},
            )
            assert response.status_code == 401, response.text
        response = client.post(
            "/api/jwt/token/",
            json={"username": live_user.username, "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.99"},
        )
    assert response.status_code == 429, response.text


def test_nginx_answers_json_503_when_no_instance_is_up(proxy: Proxy) -> None:
    for server in proxy.instances:
        server.stop()
    response = httpx.get(f"{proxy.url}/api/profile/")
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["code"] == "service_unavailable"
