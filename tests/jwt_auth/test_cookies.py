"""The JWT cookies' paths follow where the project mounts dualauth's URLs: the access cookie
reaches every endpoint, the refresh cookie only the cookie transport's own."""

import pytest
from django.http import HttpResponse
from django.urls import include, path

from common.conf import dualauth_settings
from jwt_auth.cookies import token_cookies_clear

# A project that mounts dualauth's URLs elsewhere than this one.
urlpatterns = [path("auth/v1/", include("common.urls"))]


def _cookie_paths() -> dict[str, str]:
    response = HttpResponse()
    token_cookies_clear(response)
    return {name: cookie["path"] for name, cookie in response.cookies.items()}


def test_the_cookie_paths_are_the_api_prefix_and_the_cookie_transports_endpoints():
    assert _cookie_paths() == {
        dualauth_settings.ACCESS_COOKIE_NAME: "/api/",
        dualauth_settings.REFRESH_COOKIE_NAME: "/api/jwt/cookie/",
    }


@pytest.mark.urls(__name__)
def test_the_cookie_paths_follow_urls_mounted_elsewhere():
    assert _cookie_paths() == {
        dualauth_settings.ACCESS_COOKIE_NAME: "/auth/v1/",
        dualauth_settings.REFRESH_COOKIE_NAME: "/auth/v1/jwt/cookie/",
    }
