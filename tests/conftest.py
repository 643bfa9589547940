"""Fixtures shared by every test: users, mode clients, a clean cache, live servers, the
product over HTTP in both configurations it runs in, and the Chromium that drives the SPA
(tests/clients, tests/readme).
"""

import importlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User
from django.core.cache import cache, caches
from django.http import HttpResponseBase
from django.test import override_settings
from django.test.client import ClientHandler
from django.urls import clear_url_caches
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)
from rest_framework.test import APIClient
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

from common.audit import JsonFormatter
from common.checks import PROCESS_LOCAL_CACHES
from common.conf import CACHE_ALIAS, REVOCATION_CHOICES
from common.push import PushMixin
from common.redis_breaker import breakers_reset
from common.services import user_create
from project.settings import redis_caches
from tests.clients.spa import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    EXPECT_TIMEOUT_MS,
    VIOLATIONS_RECORD,
    VIRTUAL_AUTHENTICATOR,
    CspWatch,
    VirtualAuthenticator,
)
from tests.jwt_keys import rsa_private_pem
from tests.live import LiveServer, RunServer, database_of_its_own, server_logs_unhandled
from tests.mail import SmtpServer
from tests.modes import MODES, PASSWORD, ModeClient
from tests.sites import (
    CONFIGURATIONS,
    GUNICORN,
    RUNSERVER,
    SUITE_ENV,
    Account,
    Site,
    logged_in_at,
)
from tests.stack.clients import StackClient
from tests.stack.cluster import ClusterServers
from tests.wsgi import response_check

IN_CI = os.environ.get("CI", "").lower() == "true"


def eventually(holds: Callable[[], bool], *, within: float) -> bool:
    """Whether `holds()` comes true within `within` seconds, asked every 10 ms: for what
    another thread or process does meanwhile. A deadline, never a measure.
    """
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if holds():
            return True
        time.sleep(0.01)
    return False


# Caches that each process keeps to itself, or that keep nothing: server processes on one
# share no state with each other, and the tests' cache_clear does not reach them.
def require_service(available: bool, reason: str) -> None:
    """Skip when a service is missing on a user's machine; in CI, fail instead."""
    if not available:
        if IN_CI:
            pytest.fail(f"CI must provide this: {reason}")
        pytest.skip(reason)


def require_shared_cache() -> None:
    """Skip unless server processes share one cache with the tests; in CI, fail instead."""
    require_service(
        not isinstance(caches[CACHE_ALIAS], PROCESS_LOCAL_CACHES),
        "needs REDIS_URL: only through Redis do server processes share failed-login counts "
        "and revocations, with each other and with the tests that reset them",
    )


def cache_clear() -> None:
    """Forget this run's cache keys, and no one else's."""
    delete_pattern = getattr(cache, "delete_pattern", None)
    if delete_pattern is not None:
        delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _fast_hashing_and_clean_cache(settings: Any) -> Iterator[None]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A Redis an earlier test stopped may be another's now, on the same port.
    breakers_reset()
    cache_clear()
    yield
    cache_clear()


@pytest.fixture(autouse=True)
def _no_unhandled_errors(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Fail a test that made any server answer what a WSGI server cannot send, or a 500.

    Real servers (those of tests/live.py) check each response as WSGI and log what fails,
    like any exception that nothing handled: such a log line fails the test, whatever it
    looked at. Django's test client never calls `start_response`; its responses get the
    same checks here, and a 500 fails too. A test that provokes one on purpose says so.
    """
    expected = request.node.get_closest_marker("provokes_server_error") is not None
    server_logs_unhandled()
    serve = ClientHandler.__call__

    def checked(handler: ClientHandler, environ: dict[str, Any]) -> HttpResponseBase:
        response = serve(handler, environ)
        response_check(response)
        if response.status_code == 500 and not expected:
            pytest.fail(f"a 500 from {environ.get('PATH_INFO')}: {response.getvalue()[:500]!r}")
        return response

    monkeypatch.setattr(ClientHandler, "__call__", checked)
    yield
    unhandled = server_logs_unhandled()
    if unhandled and not expected:
        pytest.fail("a server logged unhandled errors:\n" + "\n".join(unhandled[:20]))


@pytest.fixture
def password() -> str:
    """The password of every test user."""
    return PASSWORD


def login_name(name: str) -> str:
    """What user `name` logs in with: the name, or an address where the login is by email."""
    model = get_user_model()
    return f"{name}@example.com" if model.get_email_field_name() == model.USERNAME_FIELD else name


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    """Create users with the test password."""

    def make(name: str = "alice", **fields: Any) -> User:
        return user_create(
            username=login_name(name),
            password=fields.pop("password", PASSWORD),
            email=fields.pop("email", f"{name}@example.com"),
            display_name=fields.pop("display_name", name.title()),
        )

    return make


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    """Alice, with a profile."""
    return make_user("alice")


@pytest.fixture
def api() -> APIClient:
    """A client that enforces CSRF as a browser's server would."""
    return APIClient(enforce_csrf_checks=True)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Each of `session`, `jwt-header`, `jwt-cookie` in turn."""
    return str(request.param)


@pytest.fixture(params=REVOCATION_CHOICES)
def revocation(request: pytest.FixtureRequest, settings: Any) -> str:
    """Each revocation level in turn: `strict`, then `push` on the tests' Redis, this process's
    push channel trusted. Where a test says `@pytest.mark.usefixtures("revocation")`, it runs
    in both levels.
    """
    if request.param == "push":
        require_shared_cache()
        params = settings.CACHES[CACHE_ALIAS]
        settings.CACHES = redis_caches(params["LOCATION"][0], params["KEY_PREFIX"], push=True)
        settings.DUALAUTH = {**settings.DUALAUTH, "REVOCATION": "push"}
        client = getattr(caches[CACHE_ALIAS], "client", None)
        assert isinstance(client, PushMixin)
        assert eventually(client.push.trusted, within=5)
    return str(request.param)


@pytest.fixture
def mode_client(mode: str) -> ModeClient:
    """A client of the current mode, not logged in."""
    return ModeClient(mode)


@pytest.fixture
def logged_in(mode_client: ModeClient, user: User) -> ModeClient:
    """A client of the current mode, logged in as alice."""
    response = mode_client.login(user.get_username(), PASSWORD)
    assert response.status_code == 200, response.content
    return mode_client


@pytest.fixture(scope="session")
def live_server_factory(
    django_db_setup: None, django_db_blocker: Any
) -> Iterator[Callable[..., LiveServer]]:
    """Start real gunicorn servers over the test database; all are stopped at the end."""
    servers: list[LiveServer] = []

    def start(*, workers: int = 2, threads: int = 4, **env: str) -> LiveServer:
        server = LiveServer(workers=workers, threads=threads, **env).start()
        servers.append(server)
        return server

    with django_db_blocker.unblock():
        yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_user(transactional_db: None, make_user: Callable[..., User]) -> User:
    """Alice, committed so that a server process sees her."""
    return make_user("alice")


@pytest.fixture(scope="session", params=CONFIGURATIONS)
def site(
    request: pytest.FixtureRequest,
    smtp_server: SmtpServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    """The product over HTTP as each configuration serves it, in turn: make run's
    (runserver, a SQLite file of its own, the in-process cache), then production's (gunicorn
    over the test database on PostgreSQL, with Redis); its mail goes to the tests' SMTP server.
    """
    env = {**smtp_server.env, **SUITE_ENV}
    if request.param == RUNSERVER:
        server = RunServer(tmp_path_factory.mktemp("runserver"), **env).start()
        try:
            yield Site(RUNSERVER, server, smtp_server)
        finally:
            server.stop()
        return
    require_service(uses_postgres(), "production's configuration needs PostgreSQL (DATABASE_URL)")
    require_shared_cache()
    # Production signs with a key pair, whose public half its JWKS serves; make run keeps the
    # shared secret of its .env: between them, the suite runs both kinds of signer.
    signing_key = tmp_path_factory.mktemp("jwt") / "signing.pem"
    signing_key.write_text(rsa_private_pem())
    # The site's accounts live through the run: in a database and a cache prefix of its own,
    # not in the test database that the other tests expect to hold only their own rows.
    request.getfixturevalue("django_db_setup")
    with request.getfixturevalue("django_db_blocker").unblock(), database_of_its_own("site") as url:
        gunicorn = LiveServer(
            workers=2,
            threads=4,
            **env,
            DATABASE_URL=url,
            CACHE_KEY_PREFIX=f"site-{os.environ.get('CACHE_KEY_PREFIX', '')}",
            JWT_ALGORITHM="RS256",
            JWT_SIGNING_KEY_FILE=str(signing_key),
        ).start()
        try:
            yield Site(GUNICORN, gunicorn, smtp_server)
        finally:
            gunicorn.stop()


@pytest.fixture
def account(site: Site) -> Account:
    """A user of the site with a verified address, made over HTTP: alice, by a name of her own."""
    return site.account_make("alice", PASSWORD)


@pytest.fixture
def agent(site: Site) -> Iterator[Callable[[str], StackClient]]:
    """Makes user agents of a mode at the site, with no credential yet; closed at the end."""
    yield site.agent
    site.agents_close()


@pytest.fixture
def signed_in(
    site: Site, mode: str, account: Account, agent: Callable[[str], StackClient]
) -> StackClient:
    """An agent of the current mode, logged in at the site as the account."""
    return logged_in_at(site, agent(mode), account)


def uses_postgres() -> bool:
    """Whether the tests run on PostgreSQL."""
    return bool(settings.DATABASES["default"]["ENGINE"].endswith("postgresql"))


# The tests that must have the machine's cores to themselves, by path: the browsers, whose
# waits on the page time out when starved, the README's shell (whose walk-throughs run in
# reading order), and the tests that saturate every core (benches, soaks, fuzzers).
CORES_BOUND = (
    "tests/bench/",
    "tests/clients/test_spa.py",
    "tests/readme/",
    "tests/schema/test_fuzz.py",
    "tests/stack/test_soak.py",
)
# Under tests/bench/ but single-threaded, and counting instructions, which no load moves.
CORES_FREE = ("tests/bench/test_instructions.py",)


class CoresScheduling(LoadScopeScheduling):
    """pytest-xdist's scheduling by module, but for the tests bound to the cores: one scope,
    run in order on one worker while the other worker runs modules that wait on servers.

    Not xdist_group markers: pytest-xdist 3.8 cannot rename pytest 9's node ids, so its
    loadgroup scheduling ignores them.
    """

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        bound = module.startswith(CORES_BOUND) and module not in CORES_FREE
        return "cores" if bound else module


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> CoresScheduling:
    """Every xdist run (`-n 2`) schedules by `CoresScheduling`."""
    return CoresScheduling(config, log)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: every test must run there."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if IN_CI and skipped and exitstatus == 0 and reporter is not None:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; every test must run in CI.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def as_json(value: Any) -> Any:
    """`value` as a JSON body or log record carries it: a UUID key as its text, an int as is."""
    return json.loads(json.dumps(value, default=str))


@pytest.fixture
def audit_events(caplog: pytest.LogCaptureFixture) -> Callable[[], list[dict[str, Any]]]:
    """The audit records written so far, each as the JSON object the log carries."""
    caplog.set_level(logging.INFO, logger="dualauth.audit")
    formatter = JsonFormatter()

    def events() -> list[dict[str, Any]]:
        return [
            json.loads(formatter.format(record))
            for record in caplog.records
            if record.name == "dualauth.audit"
        ]

    return events


def urls_reload() -> None:
    """Build the URLconf again, for a test that changed a setting it reads."""
    importlib.reload(importlib.import_module(settings.ROOT_URLCONF))
    clear_url_caches()


@pytest.fixture
def admin_served() -> Iterator[None]:
    """The Django admin served, as with ADMIN_ENABLED=true."""
    with override_settings(ADMIN_ENABLED=True):
        urls_reload()
        yield
    urls_reload()


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    """Sam, a staff user who may use the admin."""
    sam = make_user("sam")
    sam.is_staff = True
    sam.is_superuser = True
    sam.save()
    return sam


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server for the whole run, on a free port."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer, settings: Any) -> SmtpServer:
    """The SMTP server, empty, with this process's account mail sent to it."""
    for name, value in smtp_server.settings.items():
        setattr(settings, name, value)
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def sent_mail(mailoutbox: list[Any]) -> Callable[[], list[Any]]:
    """The mails this process sent (Django's locmem backend)."""

    def sent() -> list[Any]:
        return list(mailoutbox)

    return sent


class CountingHasher(MD5PasswordHasher):
    """An MD5 hasher that counts how often a password is hashed, from any thread."""

    calls = 0
    lock = threading.Lock()

    def encode(self, password: str, salt: str) -> str:
        """Hash, and count it."""
        with CountingHasher.lock:
            CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.fixture
def counting_hasher(settings: Any) -> type[CountingHasher]:
    """Every password hash counted in `CountingHasher.calls`."""
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.calls = 0
    return CountingHasher


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterServers]:
    """A private Redis Cluster, three primaries with a replica each; stopped at the end."""
    require_service(
        shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None,
        "redis-server and redis-cli are not installed",
    )
    cluster = ClusterServers(tmp_path_factory.mktemp("redis-cluster")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless; never a downloaded browser."""
    require_service(CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM}")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        # Playwright's sync API keeps its asyncio loop running in this thread, which Django's
        # async-safety check takes for async code; every database call here is synchronous.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        expect.set_options(timeout=EXPECT_TIMEOUT_MS)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile: no cookies, no storage."""
    context = chromium.new_context(viewport=DESKTOP, color_scheme="light")
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A tab of the fresh profile."""
    return context.new_page()


@pytest.fixture
def other_page(chromium: Browser) -> Iterator[Page]:
    """A tab of another browser profile: another person's, or the same person's other device."""
    context = chromium.new_context(viewport=DESKTOP, color_scheme="light")
    yield context.new_page()
    context.close()


@pytest.fixture
def csp_watch(page: Page) -> CspWatch:
    """A watch over the page's CSP violations, from its first navigation on."""
    page.add_init_script(VIOLATIONS_RECORD)
    console: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            console.append(message.text)

    page.on("console", record)
    return CspWatch(page, console)


@pytest.fixture
def virtual_authenticator(context: BrowserContext, page: Page) -> VirtualAuthenticator:
    """A virtual platform authenticator in the page: it answers WebAuthn without a person."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
    return VirtualAuthenticator(cdp, added["authenticatorId"])
