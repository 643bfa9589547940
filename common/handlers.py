"""The one exception handler: every error as `{"detail", "code"}`, never an HTML page."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.exceptions import Challenged, ServerError, ServiceUnavailable, error_body

logger = logging.getLogger("dualauth")


def _as_api_exception(exc: Exception) -> exceptions.APIException:
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DatabaseError):
        logger.warning("database unavailable: %s", exc)
        return ServiceUnavailable()
    logger.exception("unhandled error", exc_info=exc)
    return ServerError()


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler, with every error in `{"detail", "code"}` and never an HTML page."""
    api_exc = _as_api_exception(exc)
    response = drf_exception_handler(api_exc, context)
    assert response is not None, "DRF answers every APIException"
    response.data = error_body(api_exc)
    if isinstance(api_exc, Challenged):
        for name, value in api_exc.response_headers.items():
            response[name] = value
    return response
