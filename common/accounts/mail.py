"""Account mail: rendered from overridable templates, queued as a task, retried.

A request renders its mail and queues it with Django's tasks framework (django-tasks); in
production, a row of the database (django-tasks-db) that `manage.py db_worker` sends, so that
a web process that dies loses no mail and a request's answer never waits for the SMTP server,
whether or not the address has an account. A mail that fails is queued again after each of
MAIL_RETRY_DELAYS; one that never goes is logged (`mail_failed`), without its body.

What is queued (address, subject and body, which may hold a key) is encrypted with a key
derived from SECRET_KEY (its fallbacks still decrypt): the queue's table holds no usable key.
"""

import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from cryptography.fernet import InvalidToken, MultiFernet
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.timesince import timeuntil
from django_tasks import task

from common.accounts.keys import secret_cipher
from common.conf import dualauth_settings
from common.net import frontend_url

logger = logging.getLogger("dualauth.mail")
# Each kind is a folder of templates: subject.txt, body.txt and body.html.
TEMPLATE_DIR = "dualauth/mail"
# Makes the key that encrypts queued mail one of its own, whatever else SECRET_KEY keys.
SEAL_SALT = "dualauth.accounts.mail"


def frontend_link(*, request: HttpRequest, action: str = "", key: str = "") -> str:
    """A link to the SPA for `action` with `key`, both in the fragment, which browsers never
    send: no server or proxy log keeps them.
    """
    base = frontend_url(request=request)
    if not action:
        return base
    fragment = urlencode([("action", action), *([("key", key)] if key else [])])
    return urlunsplit(urlsplit(base)._replace(fragment=fragment))


def lifetime_text(lifetime: timedelta) -> str:
    """How long a key lives, for people ("3 days", "1 hour")."""
    return timeuntil(timezone.now() + lifetime + timedelta(seconds=1))


def mail_send(*, kind: str, to: str, request: HttpRequest, context: dict[str, Any]) -> None:
    """Render the account mail `kind` to `to` now, and queue it to be sent."""
    context = {**context, "site_url": frontend_link(request=request)}
    subject = render_to_string(f"{TEMPLATE_DIR}/{kind}/subject.txt", context).strip()
    fields = {
        "to": to,
        "subject": " ".join(subject.split()),
        "text": render_to_string(f"{TEMPLATE_DIR}/{kind}/body.txt", context),
        "html": render_to_string(f"{TEMPLATE_DIR}/{kind}/body.html", context),
    }
    mail_deliver.enqueue(kind=kind, sealed=_seal(fields), attempt=1)


def _sealer() -> MultiFernet:
    """Encrypts with a key derived from SECRET_KEY; decrypts with it or a fallback's."""
    return secret_cipher(salt=SEAL_SALT, value="fernet")


def _seal(fields: dict[str, str]) -> str:
    return _sealer().encrypt(json.dumps(fields).encode()).decode()


def _unseal(sealed: str) -> dict[str, str]:
    fields: dict[str, str] = json.loads(_sealer().decrypt(sealed.encode()))
    return fields


@task()
def mail_deliver(*, kind: str, sealed: str, attempt: int) -> None:
    """Send a queued mail; if it fails, queue it again after its next retry delay, if any.

    A backend that cannot run a task later (the immediate one) tries again at once.
    """
    delays = dualauth_settings.MAIL_RETRY_DELAYS
    tries = len(delays) + 1
    try:
        fields = _unseal(sealed)
    except InvalidToken:
        # Sealed under a secret this process no longer has: it can never be read.
        logger.error("mail_failed", extra={"event": "mail_failed", "kind": kind})
        return
    message = EmailMultiAlternatives(
        subject=fields["subject"],
        body=fields["text"],
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[fields["to"]],
    )
    message.attach_alternative(fields["html"], "text/html")
    try:
        message.send()
    except Exception as e:  # any backend's failure: SMTP, socket, TLS
        logger.warning("mail %s: try %d of %d failed: %s", kind, attempt, tries, e)
    else:
        return
    if attempt >= tries:
        logger.error("mail_failed", extra={"event": "mail_failed", "kind": kind})
        return
    retry = mail_deliver
    if retry.get_backend().supports_defer:
        delay = timedelta(seconds=delays[attempt - 1])
        retry = retry.using(run_after=timezone.now() + delay)
    retry.enqueue(kind=kind, sealed=sealed, attempt=attempt + 1)
