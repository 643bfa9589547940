"""A real SMTP server for the tests (aiosmtpd on a free port), and reading account mails."""

import email
import email.policy
import re
import threading
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bench.processes import free_port

LINK = re.compile(r"https?://\S+")


class _Inbox:
    """aiosmtpd's handler: keeps every message it is given, and wakes who waits for one."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.changed:
            self.messages.append(message)
            self.changed.notify_all()
        return "250 OK"


class SmtpServer:
    """An SMTP server on 127.0.0.1 that keeps what it receives, started and stopped by the tests."""

    def __init__(self) -> None:
        self.port = free_port()
        self._inbox = _Inbox()
        self._controller = Controller(self._inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpServer":
        """Start serving."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._controller.stop()

    @property
    def settings(self) -> dict[str, Any]:
        """Django settings that send mail here."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
        }

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that make a server process send mail here."""
        return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port)}

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        """Every message received so far (to `to`, in any case, if given), oldest first."""
        with self._inbox.changed:
            return [
                m
                for m in self._inbox.messages
                if to is None or to.casefold() in str(m["To"]).casefold()
            ]

    def wait(self, to: str, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        """The messages to `to` once there are at least `count`; fails after `timeout` seconds."""
        with self._inbox.changed:
            received = self._inbox.changed.wait_for(
                lambda: len(self.messages(to)) >= count, timeout=timeout
            )
        assert received, f"{count} mail(s) to {to} expected, got {len(self.messages(to))}"
        return self.messages(to)

    def clear(self) -> None:
        """Forget every message received."""
        with self._inbox.changed:
            self._inbox.messages.clear()


def text_of(message: EmailMessage) -> str:
    """The plain-text part of `message`."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "an account mail has a plain-text part"
    return str(part.get_content())


def link_of(message: EmailMessage) -> str:
    """The first link in the plain-text part of `message`."""
    found = LINK.search(text_of(message))
    assert found, "the mail holds a link"
    return found.group(0)


def link_params(link: str) -> dict[str, list[str]]:
    """What a mailed link asks the SPA for: the parameters of its fragment."""
    return parse_qs(urlsplit(link).fragment)


def key_of(message: EmailMessage) -> str:
    """The `key` in the fragment of the link in `message`."""
    keys = link_params(link_of(message)).get("key")
    assert keys, f"the link holds a key: {link_of(message)}"
    return keys[0]
