"""deploy/nginx.conf, run by a real nginx in front of two real instances."""

import uuid
from collections.abc import Iterator

import httpx
import pytest
from django.contrib.auth.models import User

from tests.conftest import PASSWORD, require_shared_cache
from tests.live import LiveServer
from tests.nginx import Proxy, nginx_in_front

pytestmark = pytest.mark.server
ADDRESS_LIMIT = 3


@pytest.fixture(scope="module")
def proxy(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """nginx on a free port in front of two instances that trust it, and it only."""
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
    try:
        with nginx_in_front(instances, tmp_path_factory.mktemp("nginx")) as proxy:
            yield proxy
    finally:
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


def test_a_browsers_session_login_through_nginx_on_a_port_of_its_own_passes_the_origin_check(
    proxy: Proxy, live_user: User
) -> None:
    # Django compares a POST's Origin with the Host it was given: nginx must pass the port on.
    with httpx.Client(base_url=proxy.url, headers={"Origin": proxy.url}) as client:
        client.get("/api/session/csrf/")
        login = client.post(
            "/api/session/login/",
            json={"username": live_user.username, "password": PASSWORD},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
        assert login.status_code == 200, login.text
        assert client.get("/api/session/profile/").json()["username"] == live_user.username


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
