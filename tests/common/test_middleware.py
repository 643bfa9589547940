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


def _bearer_api(user, password) -> APIClient:
    """A client holding nothing but an access token in the Authorization header."""
    api = APIClient()
    credentials = {"username": user.username, "password": password}
    tokens = api.post("/api/jwt/token/", credentials, format="json")
    api.cookies.clear()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access']}")
    return api


def test_a_bearer_answer_keeps_the_cors_and_security_headers_and_sets_no_cookie(
    user, password, settings
):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    response = _bearer_api(user, password).get("/api/profile/", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == settings.SECURE_REFERRER_POLICY
    assert response["Cross-Origin-Opener-Policy"] == settings.SECURE_CROSS_ORIGIN_OPENER_POLICY
    assert response["Content-Length"] == str(len(response.content))
    assert_never_cached(response)
    assert not response.cookies


def test_an_api_request_passes_by_the_admins_user_and_messages(user, password):
    response = _bearer_api(user, password).get("/api/profile/")
    request = response.wsgi_request
    assert not hasattr(request, "_messages")
    # DRF's principal, set by its authentication: never the session's lazy user.
    assert request.user.pk == user.pk
    assert not hasattr(request, "auser")


@pytest.mark.usefixtures("admin_served")
def test_the_admin_keeps_the_session_user_and_the_messages(api, staff, password):
    api.force_login(staff)
    response = api.get("/admin/")
    assert response.status_code == 200
    request = response.wsgi_request
    assert hasattr(request, "_messages")
    assert hasattr(request, "auser")
    assert request.user.pk == staff.pk
    assert response["X-Frame-Options"] == "DENY"


# A CSRF cookie Django cannot read: its middleware answers it with a new one.
MALFORMED_CSRF = "csrftoken=not-a-token"


def test_a_token_clients_request_passes_by_the_session_and_the_csrf_cookie(user, password):
    response = _bearer_api(user, password).get("/api/jwt/profile/", HTTP_COOKIE=MALFORMED_CSRF)
    assert response.status_code == 200
    assert not hasattr(response.wsgi_request, "session")
    assert not response.cookies


def test_a_request_to_a_shared_endpoint_keeps_the_session_and_the_csrf_cookie(user, password):
    response = _bearer_api(user, password).get("/api/profile/", HTTP_COOKIE=MALFORMED_CSRF)
    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "session")
    assert response.cookies["csrftoken"].value != "not-a-token"
