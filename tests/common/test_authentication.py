"""The authentication every mode goes through: CSRF only where it has work, each value once."""

import cProfile
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.modes import ModeClient

BROWSER_MODES = ("session", "jwt-cookie")


def project_file(filename: str) -> bool:
    """Whether `filename` is this project's code, not a library's."""
    return filename.startswith(str(settings.BASE_DIR)) and "site-packages" not in filename


def profiled(
    send: Callable[[], Any], function: str, module: str, *, from_project: bool = False
) -> tuple[int, Any]:
    """What `send()` returned, and how many times it called `function` of the file ending in
    `module` (from this project's code only, if `from_project`), by cProfile.
    """
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        result = send()
    finally:
        profiler.disable()
    profiler.create_stats()
    count = sum(
        sum(
            counts[0]
            for (caller, _, _), counts in value[4].items()
            if not from_project or project_file(caller)
        )
        for (filename, _, name), value in profiler.stats.items()
        if name == function and filename.endswith(module)
    )
    return count, result


def calls(send: Callable[[], Any], function: str, module: str) -> int:
    """How many times `send()` called `function` of the file ending in `module`."""
    return profiled(send, function, module)[0]


def csrf_checked(send: Callable[[], Any]) -> tuple[int, Any]:
    """How many times Django's CSRF check looked at a view's request while `send()` ran, and
    what `send()` returned.
    """
    return profiled(send, "process_view", "django/middleware/csrf.py")


@pytest.mark.parametrize("mode", BROWSER_MODES)
def test_a_get_authenticated_by_a_cookie_runs_no_more_csrf_checks_than_an_anonymous_one(
    mode, user, password
):
    client = ModeClient(mode)
    assert client.login(user.get_username(), password).status_code == 200
    path = client.profile_path
    anonymous, _ = csrf_checked(lambda: APIClient(enforce_csrf_checks=True).get(path))
    for method in ("get", "head", "options"):
        checked, response = csrf_checked(partial(client.request, method, path))
        assert response.status_code == 200
        assert checked == anonymous, method
    # The cookie's unsafe request is checked: the count above can see a check.
    checked, response = csrf_checked(partial(client.request, "patch", path, {"bio": "x"}))
    assert response.status_code == 200
    assert checked == anonymous + 1


def warm(client: ModeClient) -> Callable[[], Any]:
    """A profile read of `client`, once made so that every memo and cache entry is filled."""

    def read() -> None:
        assert client.request("get", client.profile_path).status_code == 200

    read()
    return read


@pytest.mark.parametrize(
    ("function", "module", "at_most"),
    [
        # The user id's hash tag (BLAKE2s): the session's is remembered with the session.
        ("user_hash_tag", "common/selectors.py", {"session": 0, "jwt-header": 1, "jwt-cookie": 1}),
        # The user id's canonical form: a session's known login compares it as the text it is.
        ("user_id_parse", "common/principal.py", {"session": 0, "jwt-header": 1, "jwt-cookie": 1}),
        # The session key's HMAC, for its cache key.
        (
            "session_key_stored",
            "session_auth/sessions.py",
            {"session": 1, "jwt-header": 0, "jwt-cookie": 0},
        ),
        # The family id, parsed from the token's text; a session's is remembered.
        ("family_uuid", "common/selectors.py", {"session": 0, "jwt-header": 1, "jwt-cookie": 1}),
    ],
)
def test_a_warm_request_works_out_each_value_of_its_login_once(
    logged_in, function, module, at_most
):
    read = warm(logged_in)
    assert calls(read, function, module) <= at_most[logged_in.mode]


def test_a_warm_request_parses_its_family_id_once_at_most(logged_in):
    read = warm(logged_in)
    # The UUIDs this project makes; a UUID user key is parsed by Django's field, counted above.
    parsed, _ = profiled(read, "__init__", "uuid.py", from_project=True)
    assert parsed <= 1
