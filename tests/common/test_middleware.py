"""Every /api/ response is never cached and JSON, whichever layer of the stack answered."""

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ORIGIN = "https://app.example"


def failing_view(request: HttpRequest) -> HttpResponse:
    """A plain Django view under /api/ that fails, as a bug would."""
    raise RuntimeError("a bug")


urlpatterns = [path("api/failing/", failing_view), path("", include("project.urls"))]


def assert_never_cached(response: HttpResponse) -> None:
    """The response tells browsers and proxies to keep no copy."""
    assert "no-store" in response["Cache-Control"], response.headers


def test_a_cors_preflight_is_never_cached_and_is_an_empty_json_object(api, settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    response = api.options(
        "/api/profile/", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH"
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert_never_cached(response)
    assert response["Content-Type"] == "application/json"
    assert response.content == b"{}"
    assert response["Content-Length"] == "2"


def test_a_request_for_a_foreign_host_is_never_cached(api, settings):
    settings.DEBUG = False
    response = api.get("/api/profile/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert_never_cached(response)
    assert response["Content-Type"] == "application/json"


def test_a_204_is_never_cached_and_stays_empty(user, password):
    api = APIClient()
    credentials = {"username": user.username, "password": password}
    tokens = api.post("/api/jwt/token/", credentials, format="json")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access']}")
    response = api.post("/api/logout-all/")
    assert response.status_code == 204
    assert_never_cached(response)
    assert response.content == b""


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/api/docs/", "text/html"), ("/api/schema/", "application/vnd.oai.openapi")],
)
def test_the_docs_and_the_schema_keep_their_own_content_type(api, path, content_type):
    response = api.get(path)
    assert response.status_code == 200
    assert_never_cached(response)
    assert response["Content-Type"].startswith(content_type)
    assert response.content != b"{}"


@pytest.mark.urls(__name__)
@pytest.mark.provokes_server_error
def test_an_exception_escaping_a_view_under_the_api_is_a_json_500_never_cached(api):
    response = api.get("/api/failing/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Server error.", "code": "server_error"}
    assert_never_cached(response)


def test_a_page_outside_the_api_is_left_to_its_own_caching(api):
    response = api.get("/")
    assert response.status_code == 200
    assert not response.has_header("Cache-Control")
    assert response["Content-Type"].startswith("text/html")


def _cache_control_view(request: HttpRequest) -> HttpResponse:
    """A plain Django view under /api/ that asks to be cached."""
    response = HttpResponse(b"{}", content_type="application/json")
    response["Cache-Control"] = "public, max-age=3600"
    return response


urlpatterns.insert(0, path("api/cacheable/", _cache_control_view))


@pytest.mark.urls(__name__)
def test_a_view_under_the_api_that_asks_to_be_cached_is_not(api):
    response = api.get("/api/cacheable/")
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert response["Expires"] == "Thu, 01 Jan 1970 00:00:00 GMT"


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "*/*", ""])
def test_the_api_answers_json_whatever_accept_asks_for(api, user, password, accept):
    credentials = {"username": user.username, "password": password}
    response = api.post("/api/jwt/token/", credentials, format="json", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "access" in response.json()
