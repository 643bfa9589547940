"""Fixtures of the HTTP contract's tests: a server where no login is fresh, accounts with a
second factor set up over HTTP, and the order of the route table's check.
"""

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.clients.conftest import totp_code, totp_step
from tests.live import LiveServer, RunServer
from tests.sites import RUNSERVER, Account, Site, logged_in_at
from tests.stack.clients import StackClient
from tests.webauthn import SoftAuthenticator

# The test that reads what every other test of its module requested (tests/http/test_api.py).
ROUTE_CHECK = "test_every_route_of_the_table_is_exercised_in_both_configurations"
# The tests of this run deselected by its options (-k, -m, --deselect), by node id.
_deselected: set[str] = set()


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Note what the run's options deselected."""
    _deselected.update(item.nodeid for item in items)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the route check after every other test, and only where it can judge: with every
    test of its module selected, in a process of its own (an xdist worker sees its share of
    the traffic only).
    """
    checks = [
        item for item in items if isinstance(item, pytest.Function) and item.name == ROUTE_CHECK
    ]
    if not checks:
        return
    (check,) = checks
    items.remove(check)
    siblings = [i for i in items if isinstance(i, pytest.Function) and i.module is check.module]
    defined = {name for name in vars(check.module) if name.startswith("test_")} - {ROUTE_CHECK}
    path = check.nodeid.split("::")[0] + "::"
    whole = {item.originalname for item in siblings} == defined and not any(
        nodeid.startswith(path) for nodeid in _deselected
    )
    if whole and "PYTEST_XDIST_WORKER" not in os.environ:
        items.append(check)
    else:
        config.hook.pytest_deselected(items=[check])


@pytest.fixture(scope="session")
def stale_site(
    request: pytest.FixtureRequest, site: Site, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A second server of the site's configuration, on its database, where no login is fresh
    (REAUTH_WINDOW=0): the refusals of sensitive actions, without waiting a window out.
    """
    env = {**site.server.env, "REAUTH_WINDOW": "0"}
    if site.configuration != RUNSERVER:
        factory: Callable[..., LiveServer] = request.getfixturevalue("live_server_factory")
        yield Site(site.configuration, factory(workers=1, **env), site.smtp)
        return
    server = RunServer(tmp_path_factory.mktemp("stale"), **env).start()
    try:
        yield Site(site.configuration, server, site.smtp)
    finally:
        server.stop()


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    """A platform authenticator with its browser, holding no passkey yet."""
    return SoftAuthenticator()


@dataclass(frozen=True)
class TotpAccount:
    """An account with an authenticator app on: its secret and its recovery codes."""

    account: Account
    secret: str
    recovery_codes: list[str]


def totp_turn_on(site: Site, agent: StackClient) -> tuple[str, list[str]]:
    """Turn the authenticator app on for `agent`'s (fresh) login, using the code of step -1:
    the secret and the recovery codes.
    """
    setup = agent.request("GET", site.route("totp"))
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    # The server's clock is its own: a code of step -1 read just before a step ends is of
    # step -2 when it arrives. It is read again then, as its user would.
    for _ in range(2):
        step = totp_step()
        enabled = agent.request("POST", site.route("totp"), {"code": totp_code(secret, -1)})
        if enabled.status_code == 201 or totp_step() == step:
            break
    assert enabled.status_code == 201, enabled.text
    return secret, enabled.json()["recovery_codes"]


@pytest.fixture
def totp_account(site: Site, account: Account, agent: Callable[[str], StackClient]) -> TotpAccount:
    """The account with an authenticator app on, set up over HTTP; the code of step -1 used."""
    secret, codes = totp_turn_on(site, logged_in_at(site, agent("jwt-header"), account))
    return TotpAccount(account, secret, codes)


def passkey_add(site: Site, agent: StackClient, authenticator: SoftAuthenticator) -> httpx.Response:
    """Add a passkey from `agent`'s (fresh) login as a browser does: the options, the
    authenticator's answer, the answer posted.
    """
    options = agent.request("POST", site.route("passkey-options"))
    assert options.status_code == 200, options.text
    answer = authenticator.register(options.json(), site.url)
    return agent.request("POST", site.route("passkeys"), {"name": "Laptop", "credential": answer})


@pytest.fixture
def passkey_account(
    site: Site,
    account: Account,
    agent: Callable[[str], StackClient],
    authenticator: SoftAuthenticator,
) -> Account:
    """The account with a passkey on the authenticator, added over HTTP."""
    added = passkey_add(site, logged_in_at(site, agent("jwt-header"), account), authenticator)
    assert added.status_code == 201, added.text
    return account


def passkey_login(
    site: Site, agent: StackClient, authenticator: SoftAuthenticator
) -> httpx.Response:
    """A passwordless login of `agent`'s mode: login options, the authenticator's answer, the
    answer posted to the mode's passkey login.
    """
    started = agent.request("POST", site.route("passkey-login-options"))
    assert started.status_code == 200, started.text
    body = started.json()
    answer = authenticator.authenticate(body["options"], site.url)
    return agent.answer_take(
        agent.request(
            "POST",
            site.route("login-passkey", agent.mode),
            {"challenge_token": body["challenge_token"], "credential": answer},
        )
    )
