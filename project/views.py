"""The site's pages outside the API: the browser SPA's shell."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from common.csp import PAGE_CSP
from jwt_auth.tokens import FamilyAccessToken, lifetime


def index(request: HttpRequest) -> HttpResponse:
    """The browser SPA's shell; it tells the SPA the access token lifetime to plan refreshes."""
    access_lifetime = lifetime(FamilyAccessToken).total_seconds()
    response = render(request, "common/index.html", {"access_lifetime": int(access_lifetime)})
    response["Content-Security-Policy"] = PAGE_CSP
    return response
