"""Two instances of one deployment, on one Redis or on a Redis Cluster: a login, a logout and
a throttle hold on both."""

from collections.abc import Callable

import httpx
import pytest
from django.contrib.auth.models import User

from common.conf import dualauth_settings
from tests.conftest import PASSWORD, eventually
from tests.modes import MODES
from tests.stack.clients import StackClient, logged_in
from tests.stack.conftest import ClusterStack, Stack, stack_flush

pytestmark = pytest.mark.server


def _deployment(request: pytest.FixtureRequest) -> Stack | ClusterStack:
    if request.param in ("redis", "redis-push"):
        single: Stack = request.getfixturevalue(
            "push_stack" if "push" in request.param else "stack"
        )
        stack_flush(single)
        return single
    cluster: ClusterStack = request.getfixturevalue(
        "cluster_push_stack" if "push" in request.param else "cluster_stack"
    )
    return cluster


@pytest.fixture(params=["redis", "redis-cluster"])
def deployment(request: pytest.FixtureRequest) -> Stack | ClusterStack:
    """The two instances, on one Redis or on a Redis Cluster, with nothing of an earlier test."""
    return _deployment(request)


@pytest.fixture(params=["redis", "redis-push", "redis-cluster", "redis-cluster-push"])
def revoking_deployment(request: pytest.FixtureRequest) -> Stack | ClusterStack:
    """`deployment`, and the instances on one Redis and on a Redis Cluster under the `push`
    revocation level too.
    """
    return _deployment(request)


@pytest.fixture(params=["redis-push", "redis-cluster-push"])
def push_deployment(request: pytest.FixtureRequest) -> Stack | ClusterStack:
    """The instances under the `push` revocation level, on one Redis and on a Redis Cluster."""
    return _deployment(request)


def served_from_memory(deployment: Stack | ClusterStack, requests: Callable[[], None]) -> None:
    """Under `push`, wait until `requests()`, to both instances, send Redis no command: both
    serve the logins from memory, as they would until they hear of a revocation.
    """
    if deployment.revocation == "push":
        assert eventually(lambda: deployment.round_trips(requests) == 0, within=5)


@pytest.mark.parametrize("mode", MODES)
def test_under_push_a_steady_state_request_makes_no_redis_round_trip(
    push_deployment: Stack | ClusterStack, stack_user: User, agents: list[StackClient], mode: str
) -> None:
    agent = logged_in(mode, push_deployment.a.url, stack_user, agents)

    def profile(times: int = 1) -> None:
        for _ in range(times):
            response = agent.profile(push_deployment.b.url)
            assert response.status_code == 200, response.text

    # B reads the login's entries once the pushes of the login's writes are in, and keeps them.
    assert eventually(lambda: push_deployment.round_trips(profile) == 0, within=5)
    assert push_deployment.round_trips(lambda: profile(times=3)) == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_login_on_one_instance_works_on_the_other(
    deployment: Stack | ClusterStack, stack_user: User, agents: list[StackClient], mode: str
) -> None:
    agent = logged_in(mode, deployment.a.url, stack_user, agents)
    for base in (deployment.b.url, deployment.a.url):
        response = agent.profile(base)
        assert response.status_code == 200, response.text
        assert response.headers["Auth-Mode"] == mode
    assert agent.profile_update(deployment.b.url, bio=f"via {mode}").status_code == 200
    assert agent.profile(deployment.a.url).json()["bio"] == f"via {mode}"


@pytest.mark.parametrize("mode", MODES)
def test_a_logout_on_one_instance_ends_the_login_on_the_other_at_once(
    revoking_deployment: Stack | ClusterStack,
    stack_user: User,
    agents: list[StackClient],
    mode: str,
) -> None:
    agent = logged_in(mode, revoking_deployment.b.url, stack_user, agents)

    def profiles() -> None:
        for base in revoking_deployment.urls:
            assert agent.profile(base).status_code == 200

    # Both instances have the login's live state cached before the logout.
    profiles()
    served_from_memory(revoking_deployment, profiles)
    replay = agent.clone()
    agents.append(replay)
    assert agent.logout(revoking_deployment.a.url).status_code == 204
    for base in (revoking_deployment.b.url, revoking_deployment.a.url):
        response = replay.profile(base)
        assert response.status_code == 401, response.text
        expected = "not_authenticated" if mode == "session" else "token_revoked"
        assert response.json()["code"] == expected


def test_a_jwt_logout_on_one_instance_is_refused_by_the_other_as_revoked(
    revoking_deployment: Stack | ClusterStack, stack_user: User, agents: list[StackClient]
) -> None:
    agent = logged_in("jwt-header", revoking_deployment.a.url, stack_user, agents)
    access = agent.credential()

    def profile() -> None:
        assert agent.profile(revoking_deployment.b.url).status_code == 200

    profile()
    served_from_memory(revoking_deployment, profile)
    assert agent.logout(revoking_deployment.a.url).status_code == 204
    verify = httpx.post(
        f"{revoking_deployment.b.url}/api/jwt/token/verify/", json={"token": access}
    )
    assert verify.status_code == 401
    assert verify.json()["code"] == "token_revoked"
    response = agent.profile(revoking_deployment.b.url)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    refresh = agent.refresh(revoking_deployment.b.url)
    assert refresh.status_code == 401
    assert refresh.json()["code"] == "token_revoked"


def test_logout_all_reaches_every_login_on_every_instance(
    revoking_deployment: Stack | ClusterStack, stack_user: User, agents: list[StackClient]
) -> None:
    everyone = [
        logged_in(mode, base, stack_user, agents)
        for mode in MODES
        for base in revoking_deployment.urls
    ]

    def profiles() -> None:
        for agent in everyone:
            for base in revoking_deployment.urls:
                assert agent.profile(base).status_code == 200

    profiles()
    served_from_memory(revoking_deployment, profiles)
    assert everyone[0].logout_all(revoking_deployment.b.url).status_code == 204
    for agent in everyone:
        for base in revoking_deployment.urls:
            assert agent.profile(base).status_code == 401, (agent.mode, base)


def test_failed_logins_are_counted_across_instances(
    deployment: Stack | ClusterStack, stack_user: User, agents: list[StackClient]
) -> None:
    agent = StackClient("jwt-header")
    agents.append(agent)
    # The instances read the limit from the tests' environment; the failures alternate.
    for attempt in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        base = deployment.urls[attempt % 2]
        response = agent.login(base, stack_user.username, "wrong password")
        assert response.status_code == 401, response.text
    for base in deployment.urls:
        response = agent.login(base, stack_user.username, PASSWORD)
        assert response.status_code == 429, response.text
        assert response.json()["code"] == "throttled"
        assert int(response.headers["Retry-After"]) > 0
