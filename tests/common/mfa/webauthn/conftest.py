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

from common.mfa.models import Passkey
from common.mfa.webauthn.services import passkey_register, passkey_registration_options
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

# A sample of the table for the slower ways in (a request each): every SafetyNet edit, and
# two statement edits of every other format.
REGISTRATION_SAMPLE: list[tuple[str, str, Edit]] = [
    (fmt, name, edit)
    for fmt, name, edit in REGISTRATION_EDITS
    if fmt == "android-safetynet" or name in ("members are text", "x5c holds no certificate")
]
# What py_webauthn rightly accepts of the table: a "none" statement it finds no member in (a
# list, text), and a "packed" one without certificates (self attestation).
STILL_VALID = {("packed", "x5c is empty"), *(("none", name) for _, name, _ in REGISTRATION_EDITS)}


def _client_data(value: Any) -> Edit:
    def edit(answer: dict[str, Any]) -> None:
        answer["response"]["clientDataJSON"] = b64url(json.dumps(value).encode())

    return edit


def _member(name: str, value: Any) -> Edit:
    def edit(answer: dict[str, Any]) -> None:
        answer["response"][name] = value

    return edit


def _cut(name: str) -> Edit:
    def edit(answer: dict[str, Any]) -> None:
        answer["response"][name] = answer["response"][name][:10]

    return edit


# Spoilt login answers (`navigator.credentials.get()`), by name; each edits a copy in place.
LOGIN_EDITS: dict[str, Edit] = {
    "client data is []": _client_data([]),
    "client data is text": _client_data("text"),
    "client data members are lists": _client_data({"type": [], "challenge": [], "origin": []}),
    "client data is not JSON": _member("clientDataJSON", b64url(b"{")),
    "authenticator data cut short": _cut("authenticatorData"),
    "signature cut short": _cut("signature"),
    "signature empty": _member("signature", ""),
    "user handle not base64url": _member("userHandle", "%%%"),
    "user handle a number": _member("userHandle", 7),
    "response a list": lambda answer: answer.update(response=[]),
    "raw id not the id": lambda answer: answer.update(rawId=b64url(b"another")),
}


def login_edit(answer: dict[str, Any], edit: Edit) -> dict[str, Any]:
    """A copy of the login answer `answer`, changed by `edit`."""
    copy = {**answer, "response": dict(answer["response"])}
    edit(copy)
    return copy


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
