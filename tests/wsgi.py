"""The WSGI conformance checks every server of the tests applies, and the test client too.

Every server a test starts serves its application through the standard library's checker,
`wsgiref.validate.validator`: a header name or value that is not a `str`, a bad status line
or a body that is not bytes fails the request (a 500, and a traceback in the server's log)
under gunicorn too, not only under runserver, whose handler refuses them on its own. Django's
test client never calls `start_response`: `response_check` puts its responses through the
same checks.
"""

import importlib
import warnings
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref import validate

from django.http import HttpResponse, HttpResponseBase

WsgiApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def checked(application: WsgiApplication) -> WsgiApplication:
    """`application` inside the WSGI checker; the checker's warnings are failures too."""
    warnings.simplefilter("error", validate.WSGIWarning)
    # A method the checker does not know (QUERY) is the client's choice, not the application's
    # fault: HTTP allows any; the application answers it (405) like any other.
    warnings.filterwarnings("ignore", "Unknown REQUEST_METHOD", validate.WSGIWarning)
    return validate.validator(application)


def validated(module: str) -> WsgiApplication:
    """The `application` of `module`, checked: gunicorn serves `tests.wsgi:validated('...')`."""
    return checked(importlib.import_module(module).application)


def response_check(response: HttpResponseBase) -> None:
    """Fail, as `validator` would, on what a WSGI server could not send of `response`.

    The status line and headers are those Django's WSGIHandler hands `start_response`.
    """
    status = f"{response.status_code} {response.reason_phrase}"
    headers = [
        *response.items(),
        *(("Set-Cookie", cookie.output(header="")) for cookie in response.cookies.values()),
    ]
    validate.check_status(status)  # type: ignore[attr-defined]
    validate.check_headers(headers)  # type: ignore[attr-defined]
    validate.check_content_type(status, headers)  # type: ignore[attr-defined]
    if isinstance(response, HttpResponse):
        assert type(response.content) is bytes, f"a body of {type(response.content)}"
