"""Fixtures of the passkey tests: a request to the test site, an authenticator, passkeys made."""

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone
from time_machine import TimeMachineFixture

from common.models import Passkey
from common.passkeys.services import passkey_register, passkey_registration_options
from tests.webauthn import FORMATS, SoftAuthenticator, b64url

Edit = Callable[[dict[str, Any]], None]

# The site Django's test client and RequestFactory reach: the default relying party.
RP_ID = "testserver"
ORIGIN = f"http://{RP_ID}"


def _safetynet_response_as_text(attestation: dict[str, Any]) -> None:
    attestation["attStmt"]["response"] = attestation["attStmt"]["response"].decode()


def _safetynet_header(header: Any) -> Edit:
    def edit(attestation: dict[str, Any]) -> None:
        _, payload, signature = attestation["attStmt"]["response"].split(b".")
        first = b64url(json.dumps(header).encode()).encode()
        attestation["attStmt"]["response"] = b".".join([first, payload, signature])

    return edit


def _statement(value: Any) -> Edit:
    def edit(attestation: dict[str, Any]) -> None:
        attestation["attStmt"] = value

    return edit


def _members(value: Any) -> Edit:
    def edit(attestation: dict[str, Any]) -> None:
        attestation["attStmt"] = dict.fromkeys(attestation["attStmt"], value)

    return edit


def _x5c(value: Any) -> Edit:
    def edit(attestation: dict[str, Any]) -> None:
        attestation["attStmt"]["x5c"] = value

    return edit


# The finding of issue 21: py_webauthn 3.0.1 raised AttributeError on these (a 500).
SAFETYNET_REPRODUCERS: dict[str, Edit] = {
    "safetynet response is text": _safetynet_response_as_text,
    "safetynet JWS header is []": _safetynet_header([]),
}
# Spoilt attestation statements that each format is given, by name: what a client can send in
# the place of the statement or its members.
STATEMENT_EDITS: dict[str, Edit] = {
    "statement is a list": _statement([]),
    "statement is text": _statement("text"),
    "members are text": _members("text"),
    "members are empty bytes": _members(b""),
    "members are lists of text": _members(["text"]),
    "members are maps": _members({"a": 1}),
    "x5c is empty": _x5c([]),
    "x5c holds no certificate": _x5c([b"not a certificate"]),
    "x5c holds text": _x5c(["text"]),
}
SAFETYNET_EDITS: dict[str, Edit] = {
    **SAFETYNET_REPRODUCERS,
    "safetynet JWS header is a number": _safetynet_header(7),
    "safetynet JWS x5c is empty": _safetynet_header({"alg": "RS256", "x5c": []}),
    "safetynet JWS x5c is text": _safetynet_header({"alg": "RS256", "x5c": "text"}),
    "safetynet response is one part": lambda a: a["attStmt"].update(response=b"abc"),
    "safetynet JWS parts are not base64": lambda a: a["attStmt"].update(response=b"%.%.%"),
    "safetynet JWS is not JSON": lambda a: a["attStmt"].update(response=jws_raw(b"{", b"[")),
}
# Every spoilt registration answer of the table, as (format, name of the edit, edit).
REGISTRATION_EDITS: list[tuple[str, str, Edit]] = [
    *((fmt, name, edit) for fmt in FORMATS for name, edit in STATEMENT_EDITS.items()),
    *(("android-safetynet", name, edit) for name, edit in SAFETYNET_EDITS.items()),
]


def jws_raw(header: bytes, payload: bytes) -> bytes:
    """A compact JWS of any header and payload bytes, with a signature of none."""
    return b".".join(b64url(part).encode() for part in (header, payload, b""))


def site_request() -> HttpRequest:
    """A request to the test site, from one client address."""
    return RequestFactory().post("/", REMOTE_ADDR="203.0.113.7")


@pytest.fixture
def http_request() -> HttpRequest:
    """A request to the test site, as a service is given one."""
    return site_request()


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    """A platform authenticator with a counter, holding no passkey yet."""
    return SoftAuthenticator()


@pytest.fixture
def clock(time_machine: TimeMachineFixture) -> TimeMachineFixture:
    """The clock, standing still on a whole second until the test moves it."""
    time_machine.move_to(timezone.now().replace(microsecond=0), tick=False)
    return time_machine


def passkey_add(
    authenticator: SoftAuthenticator, user: Any, name: str = "Laptop", **knobs: Any
) -> Passkey:
    """A passkey of `user` made by `authenticator` through the services, from a login of its own."""
    family_id = uuid.uuid4()
    request = site_request()
    options = passkey_registration_options(user_id=user.pk, family_id=family_id, request=request)
    answer = authenticator.register(options, ORIGIN, **knobs)
    return passkey_register(
        user_id=user.pk, family_id=family_id, name=name, credential=answer, request=request
    )


@pytest.fixture
def make_passkey(authenticator: SoftAuthenticator) -> Callable[..., Passkey]:
    """Make passkeys of a user with the test's authenticator, or another (`by`): an authenticator
    makes one passkey per account (excludeCredentials).
    """

    def make(user: Any, name: str = "Laptop", by: SoftAuthenticator | None = None) -> Passkey:
        return passkey_add(by or authenticator, user, name)

    return make
