"""JSON bodies nested too deeply are a 400 in every mode, never a 500."""

import json
from typing import Any

import pytest

from tests.modes import LOGIN_PATHS, ModeClient

pytestmark = pytest.mark.django_db

DEEP_BODIES = {
    "arrays": "[" * 100_000 + "]" * 100_000,
    "objects": '{"a":' * 11_000 + "1" + "}" * 11_000,
}
LIMIT = 5


@pytest.fixture
def limit(settings: Any) -> int:
    """A nesting limit set for this test, not the default."""
    settings.DUALAUTH = {**settings.DUALAUTH, "JSON_MAX_DEPTH": LIMIT}
    return LIMIT


def raw_request(client: ModeClient, method: str, path: str, body: str) -> Any:
    """Send `body` as it is, as JSON, with the CSRF header a browser mode needs."""
    extra = {}
    if client.mode != "jwt-header":
        extra["HTTP_X_CSRFTOKEN"] = client.csrf_token()
    return getattr(client.client, method)(path, body, content_type="application/json", **extra)


def nested(depth: int) -> Any:
    """A list inside a list, `depth` containers in all."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def assert_refused(response: Any) -> None:
    """The response is the contract's 400 for a malformed body."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"] == "Malformed request body."
    assert body["code"] == "validation_error"
    assert list(body["errors"]) == ["body"]


@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_a_deeply_nested_login_body_is_a_400_not_a_500(mode_client, user, body):
    response = raw_request(mode_client, "post", LOGIN_PATHS[mode_client.mode], body)
    assert_refused(response)


@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_a_deeply_nested_profile_patch_is_a_400_not_a_500(logged_in, user, body):
    response = raw_request(logged_in, "patch", logged_in.profile_path, body)
    assert_refused(response)
    user.profile.refresh_from_db()
    assert user.profile.bio == ""


def test_a_body_nested_exactly_to_the_limit_is_accepted(logged_in, user, limit):
    # The object itself is the first level.
    body = {"bio": "Just deep enough.", "extra": nested(limit - 1)}
    response = raw_request(logged_in, "patch", logged_in.profile_path, json.dumps(body))
    assert response.status_code == 200, response.content
    assert response.json()["bio"] == "Just deep enough."


def test_a_body_nested_one_level_past_the_limit_is_refused(logged_in, user, limit):
    body = {"bio": "One level too deep.", "extra": nested(limit)}
    response = raw_request(logged_in, "patch", logged_in.profile_path, json.dumps(body))
    assert_refused(response)
    assert str(limit) in response.json()["errors"]["body"][0]
    user.profile.refresh_from_db()
    assert user.profile.bio == ""


def test_a_login_nested_past_the_limit_is_refused_even_with_the_right_password(
    mode_client, user, password, limit
):
    body = {"username": user.username, "password": password, "extra": nested(limit)}
    response = raw_request(mode_client, "post", LOGIN_PATHS[mode_client.mode], json.dumps(body))
    assert_refused(response)
