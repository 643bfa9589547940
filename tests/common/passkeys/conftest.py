"""Fixtures of the passkey tests: a request to the test site, an authenticator, passkeys made."""

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
from tests.webauthn import SoftAuthenticator

# The site Django's test client and RequestFactory reach: the default relying party.
RP_ID = "testserver"
ORIGIN = f"http://{RP_ID}"


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
