"""API responses are never cached and never HTML."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from common.exceptions import ServerError, error_response

API_PREFIX = "/api/"


class ApiResponseMiddleware:
    """`Cache-Control: no-store` on every API response; JSON for a failure outside DRF."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX):
            add_never_cache_headers(response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Answer an exception that escaped a view under /api/ as JSON 500."""
        if not request.path.startswith(API_PREFIX):
            return None
        return error_response(ServerError())
