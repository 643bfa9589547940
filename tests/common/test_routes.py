"""The route table: every path in it is served, and the README shows it as it is."""

import re
from pathlib import Path

import pytest
from django.urls import include, resolve
from django.urls import path as route

from common.routes import (
    JWT_COOKIE,
    JWT_HEADER,
    MODE_ROUTES,
    MODES,
    SESSION,
    SHARED_ROUTES,
    api_prefix,
    bearer_route,
    mode_path,
)

README = Path(__file__).resolve().parents[2] / "README.md"
FAMILY_ID = "5f0c0e0a-7d3b-4c5e-9a1e-2b6f4d8c9e10"


@pytest.mark.parametrize("mode", MODES)
def test_every_endpoint_of_every_mode_is_served_where_the_table_says(mode):
    for endpoint in MODE_ROUTES[mode]:
        match = resolve(mode_path(mode, endpoint, family_id=FAMILY_ID))
        assert match.namespace == "dualauth", (mode, endpoint)
        assert match.url_name != "api-not-found", (mode, endpoint)


def test_every_shared_endpoint_is_served_under_the_api_prefix(settings):
    for name, path in SHARED_ROUTES.items():
        concrete = re.sub(r"<int:\w+>", "1", path)
        assert resolve(api_prefix() + concrete).url_name == name


# A project that mounts dualauth's URLs elsewhere than this one.
urlpatterns = [route("auth/v1/", include("common.urls"))]


def test_the_api_prefix_is_where_the_project_mounts_the_urls():
    assert api_prefix() == "/api/"


@pytest.mark.urls(__name__)
def test_the_api_prefix_and_every_path_follow_urls_mounted_elsewhere():
    assert api_prefix() == "/auth/v1/"
    assert mode_path(JWT_COOKIE, "refresh") == "/auth/v1/jwt/cookie/refresh/"
    for mode in MODES:
        for endpoint in MODE_ROUTES[mode]:
            match = resolve(mode_path(mode, endpoint, family_id=FAMILY_ID))
            assert match.url_name != "api-not-found", (mode, endpoint)


def test_the_bearer_routes_are_the_token_clients_endpoints_and_no_other():
    for endpoint in MODE_ROUTES[JWT_HEADER]:
        assert bearer_route(mode_path(JWT_HEADER, endpoint, family_id=FAMILY_ID)), endpoint
    # The cookie transport's device list is the token client's, shared.
    token = set(MODE_ROUTES[JWT_HEADER].values())
    browser = [r for m in (SESSION, JWT_COOKIE) for r in MODE_ROUTES[m].values() if r not in token]
    for path in (*browser, *SHARED_ROUTES.values()):
        assert not bearer_route(api_prefix() + path), path


@pytest.mark.urls(__name__)
def test_the_bearer_routes_follow_urls_mounted_elsewhere():
    assert bearer_route("/auth/v1/jwt/profile/")
    assert bearer_route(f"/auth/v1/jwt/devices/{FAMILY_ID}/")
    assert not bearer_route("/api/jwt/profile/")
    assert not bearer_route("/auth/v1/jwt/cookie/login/")


def test_the_readme_route_table_is_the_route_table():
    text = README.read_text()
    table = text.split("<!-- routes -->")[1].split("<!-- /routes -->")[0]
    rows = [line for line in table.strip().splitlines()[2:]]
    readme = {}
    for row in rows:
        endpoint, *paths = (cell.strip() for cell in row.strip("|").split("|"))
        for mode, path in zip(MODES, paths, strict=True):
            if path:
                readme.setdefault(mode, {})[endpoint] = re.sub(r"^`|`$", "", path)
    assert readme == MODE_ROUTES
