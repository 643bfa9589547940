"""DPoP across instances: two gunicorn servers, one shared replay cache in Redis."""

from collections.abc import Callable

import httpx
import pytest
from django.contrib.auth.models import User

from clients.mobile.dpop import DpopKey
from tests.conftest import require_shared_cache
from tests.live import LiveServer

# The name both instances are reached by, as behind one load balancer: a proof names it.
PUBLIC_HOST = "localhost"
PROFILE = "/api/jwt/profile/"
LOGIN = "/api/jwt/token/"


@pytest.fixture(scope="module")
def instances(live_server_factory: Callable[..., LiveServer]) -> tuple[LiveServer, LiveServer]:
    """Two servers sharing the database and the Redis of the tests."""
    require_shared_cache()
    return live_server_factory(workers=1), live_server_factory(workers=1)


def _public(path: str) -> str:
    return f"http://{PUBLIC_HOST}{path}"


def test_a_proof_used_on_one_instance_is_refused_on_the_other(
    instances: tuple[LiveServer, LiveServer], live_user: User, password: str
) -> None:
    first, second = instances
    key = DpopKey.generate()
    host = {"Host": PUBLIC_HOST}
    with httpx.Client(base_url=first.url) as one, httpx.Client(base_url=second.url) as other:
        login = one.post(
            LOGIN,
            json={"username": live_user.username, "password": password},
            headers={**host, "DPoP": key.proof(method="POST", url=_public(LOGIN))},
        )
        assert login.status_code == 200, login.text
        access = login.json()["access"]
        proof = key.proof(method="GET", url=_public(PROFILE), access_token=access)
        headers = {**host, "Authorization": f"DPoP {access}", "DPoP": proof}
        assert one.get(PROFILE, headers=headers).status_code == 200
        replayed = other.get(PROFILE, headers=headers)
        assert replayed.status_code == 401
        assert replayed.json()["code"] == "invalid_dpop_proof"
        assert "used before" in replayed.headers["WWW-Authenticate"]
        fresh = key.proof(method="GET", url=_public(PROFILE), access_token=access)
        assert other.get(PROFILE, headers={**headers, "DPoP": fresh}).status_code == 200
        # A login proof replayed at the other instance is refused too, and logs no one in.
        replayed_login = other.post(
            LOGIN,
            json={"username": live_user.username, "password": password},
            headers={**host, "DPoP": login.request.headers["DPoP"]},
        )
        assert replayed_login.status_code == 400
