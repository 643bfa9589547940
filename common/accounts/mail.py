"""Account mail: rendered from overridable templates, sent in the background, retried.

A request only renders its mail and hands it over, so that its answer takes the same
time whether or not an address has an account, and an SMTP server that is slow or
down never fails it. Each mail is tried again after each of MAIL_RETRY_DELAYS; one
that never goes is logged (`mail_failed`), without its body, which may hold a key.
"""

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.timesince import timeuntil

from common.conf import dualauth_settings

logger = logging.getLogger("dualauth.mail")
# Each kind is a folder of templates: subject.txt, body.txt and body.html.
TEMPLATE_DIR = "dualauth/mail"
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dualauth-mail")
_pending: set[Future[None]] = set()
_lock = threading.Lock()


def frontend_link(*, request: HttpRequest, action: str = "", key: str = "") -> str:
    """A link to the SPA for `action` with `key`, both in the fragment, which browsers never
    send: no server or proxy log keeps them.
    """
    base = dualauth_settings.FRONTEND_URL or _site_root(request)
    if not action:
        return base
    fragment = urlencode([("action", action), *([("key", key)] if key else [])])
    return urlunsplit(urlsplit(base)._replace(fragment=fragment))


def _site_root(request: HttpRequest) -> str:
    """This site's root, where no FRONTEND_URL is set (development): the request's host, with
    its port only if ALLOWED_HOSTS lists that host and port together.

    ALLOWED_HOSTS vouches for a host name alone: any port would pass it.
    """
    host, port = split_domain_port(request.get_host())
    if port and f"{host}:{port}" in [allowed.lower() for allowed in settings.ALLOWED_HOSTS]:
        host = f"{host}:{port}"
    return f"{request.scheme}://{host}/"


def frontend_fragment_link(*, request: HttpRequest, action: str, key: str) -> str:
    """A link to the SPA for `action` with `key` in its fragment, which browsers never send."""
    parts = urlsplit(frontend_link(request=request))
    return urlunsplit(parts._replace(fragment=urlencode([("action", action), ("key", key)])))


def lifetime_text(lifetime: timedelta) -> str:
    """How long a key lives, for people ("3 days", "1 hour")."""
    return timeuntil(timezone.now() + lifetime + timedelta(seconds=1))


def mail_send(*, kind: str, to: str, request: HttpRequest, context: dict[str, Any]) -> None:
    """Render the account mail `kind` to `to` now, and send it in the background."""
    context = {**context, "site_url": frontend_link(request=request)}
    subject = render_to_string(f"{TEMPLATE_DIR}/{kind}/subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string(f"{TEMPLATE_DIR}/{kind}/body.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(
        render_to_string(f"{TEMPLATE_DIR}/{kind}/body.html", context), "text/html"
    )
    future = _executor.submit(_deliver, message, kind)
    with _lock:
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future[None]) -> None:
    with _lock:
        _pending.discard(future)


def _deliver(message: EmailMultiAlternatives, kind: str) -> None:
    """Send `message`, trying again after each retry delay; log a mail that never went."""
    delays = [0.0, *dualauth_settings.MAIL_RETRY_DELAYS]
    for attempt, delay in enumerate(delays, start=1):
        time.sleep(delay)
        try:
            message.send()
        except Exception as e:  # any backend's failure: SMTP, socket, TLS
            logger.warning("mail %s: try %d of %d failed: %s", kind, attempt, len(delays), e)
        else:
            return
    logger.error("mail_failed", extra={"event": "mail_failed", "kind": kind})


def mail_wait(timeout: float | None = None) -> bool:
    """Wait until every mail this process queued was sent or given up; False on timeout.

    Gunicorn calls it as a worker exits, so that a graceful restart loses no mail.
    """
    with _lock:
        pending = set(_pending)
    return not wait(pending, timeout=timeout).not_done
