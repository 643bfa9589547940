"""API responses are never cached and never HTML, whichever layer of the stack answered; the
middleware with no work under the API prefix, or on the token client's endpoints, which
requests there pass by.
"""

import logging
from collections.abc import Awaitable, Callable

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.deprecation import MiddlewareMixin

from common.exceptions import ServerError, error_response
from common.routes import api_prefix, bearer_route

logger = logging.getLogger("dualauth")
NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"
NEVER_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"
# HTTP forbids a body on these.
BODILESS_STATUSES = (204, 304)


class ApiResponseMiddleware:
    """`Cache-Control: no-store` on every API response, a JSON body on one left empty."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith(api_prefix()):
            # What add_never_cache_headers() writes, set outright: nothing under the API
            # prefix is cached, whatever a layer below said, and parsing that costs time.
            response.headers["Expires"] = NEVER_EXPIRES
            response.headers["Cache-Control"] = NEVER_CACHE
            if response_is_empty(response):
                response.content = b"{}"
                response["Content-Type"] = "application/json"
                response["Content-Length"] = str(len(response.content))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Answer an exception that escaped a view under /api/ as JSON 500."""
        if not request.path_info.startswith(api_prefix()):
            return None
        logger.error("unhandled error under %s", request.path, exc_info=exception)
        return error_response(ServerError())


def response_is_empty(response: HttpResponse) -> bool:
    """Whether `response` has no body though its status allows one."""
    return (
        not response.streaming
        and response.status_code not in BODILESS_STATUSES
        and not response.content
    )


class PassByMiddleware(MiddlewareMixin):
    """A middleware that the requests to the paths `passes_by` names pass by."""

    @staticmethod
    def passes_by(path_info: str) -> bool:
        """Whether a request to `path_info` has no work in this middleware."""
        raise NotImplementedError

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.passes_by(request.path_info):
            # An async chain's get_response returns its coroutine, awaited by the caller.
            return self.get_response(request)
        return super().__call__(request)


class OutsideApiMiddleware(PassByMiddleware):
    """A middleware with no work under the API prefix, which requests there pass by.

    DRF authenticates every API request itself, and no API view reads Django's
    `request.user` or its messages: a middleware that only offers those costs an API
    request its construction and its response pass for nothing.
    """

    @staticmethod
    def passes_by(path_info: str) -> bool:
        """Whether `path_info` is under the API prefix."""
        return path_info.startswith(api_prefix())


class OffBearerRoutesMiddleware(PassByMiddleware):
    """A middleware of browser state (a session, the CSRF cookie), which requests to the token
    client's endpoints (`bearer_route`) pass by: none reads or writes that state.
    """

    passes_by = staticmethod(bearer_route)


class BrowserCsrfViewMiddleware(OffBearerRoutesMiddleware, CsrfViewMiddleware):
    """Django's CsrfViewMiddleware, which sets the CSRF cookie: off the token client's endpoints."""
