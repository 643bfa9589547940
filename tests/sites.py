"""The product over real HTTP, in each configuration it is run in: `make run`'s and production's.

A `Site` is one server of a configuration with the tests' SMTP server as its mail. Its users
are made as a user makes one, over HTTP (sign up, then verify with the key from the mail),
so that one test serves both configurations: runserver's SQLite file is not the test
process's database. Every request of its clients is noted against the route table, so that a
test can tell which routes the suite exercised in each configuration.
"""

import re
import subprocess
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import httpx
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.db import models

from common.routes import MODE_ROUTES, SHARED_ROUTES, api_prefix
from tests.live import BIN, ROOT, LiveServer, RunServer
from tests.mail import SmtpServer, key_of
from tests.stack.clients import StackClient, http_client

RUNSERVER, GUNICORN = CONFIGURATIONS = ("runserver", "gunicorn")
# What every server of the HTTP suites is given over its configuration's own: the admin
# (where an operator deactivates a user), a key for authenticator apps whatever `.env` holds,
# and address-wide limits that a whole suite's requests, all from 127.0.0.1, would reach
# within one window. The limits per username and per address mailed stay the product's.
SUITE_ENV = {
    "ADMIN_ENABLED": "true",
    "MFA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "ACCOUNT_REQUESTS_PER_ADDRESS": "1000000",
    "LOGIN_FAILURES_PER_ADDRESS": "1000000",
}
# The table a shared endpoint belongs to, beside the modes' own.
SHARED = "shared"
# A route parameter of the table, and what fills it in a request's path.
PARAMETER = re.compile(r"<(uuid|int):(\w+)>")
PARAMETER_PATTERNS = {"uuid": "[0-9a-f-]{36}", "int": "[0-9]+"}
# The readings of an account that was never timed.
EARLIEST, LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
# A UUID as JSON carries it.
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# How the API writes a time (docs/API.md, Conventions).
API_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
# The routes of the table the agents of each configuration requested, as (table, endpoint);
# the table is a mode, or SHARED. Kept for the whole run: a site's server is not.
EXERCISED: dict[str, set[tuple[str, str]]] = {name: set() for name in CONFIGURATIONS}
# The configurations a site of this run served in.
SERVED: set[str] = set()


def route_pattern(route: str) -> re.Pattern[str]:
    """The paths that `route` of the table (under the API prefix) matches."""
    parts = PARAMETER.split(route)
    # split() gives literal text, then a converter and a name, for each parameter.
    literals, converters = parts[::3], parts[1::3]
    pattern = "".join(
        re.escape(literal) + (PARAMETER_PATTERNS[converters[i]] if i < len(converters) else "")
        for i, literal in enumerate(literals)
    )
    return re.compile(re.escape(api_prefix()) + pattern)


def routes_of(mode: str | None, path: str) -> set[tuple[str, str]]:
    """The entries of the route table that a client of `mode` (or of none) reaches at `path`:
    its mode's and the shared ones.
    """
    tables = [(SHARED, SHARED_ROUTES), *([(mode, MODE_ROUTES[mode])] if mode else [])]
    return {
        (table, endpoint)
        for table, routes in tables
        for endpoint, route in routes.items()
        if route_pattern(route).fullmatch(path)
    }


def every_route() -> set[tuple[str, str]]:
    """Every entry of the route table, as (table, endpoint)."""
    return {(mode, endpoint) for mode, routes in MODE_ROUTES.items() for endpoint in routes} | {
        (SHARED, endpoint) for endpoint in SHARED_ROUTES
    }


def logs_in_by_email() -> bool:
    """Whether the user model's login name is its email address."""
    model = get_user_model()
    return model.get_email_field_name() == model.USERNAME_FIELD


@dataclass(frozen=True)
class Account:
    """A user made over HTTP: what it logs in with (the profile's `username` too), and the
    clock's readings around its signup.
    """

    username: str
    email: str
    password: str
    signed_up_after: datetime = EARLIEST
    signed_up_before: datetime = LATEST


class UserId:
    """Equal to a user's id as JSON carries it: a number, or with a user model whose key is a
    UUID (the custom user model's), its text.
    """

    def __eq__(self, other: object) -> bool:
        if isinstance(get_user_model()._meta.pk, models.UUIDField):
            return isinstance(other, str) and UUID_TEXT.fullmatch(other) is not None
        return isinstance(other, int) and not isinstance(other, bool) and other > 0

    def __repr__(self) -> str:
        return f"<a user id of {get_user_model().__name__}>"


class TimeBetween:
    """Equal to a time the API wrote (ISO 8601, UTC, microseconds) between two readings."""

    def __init__(self, after: datetime, before: datetime) -> None:
        self.after = after
        self.before = before

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str) or not API_TIME.fullmatch(other):
            return False
        return self.after <= datetime.fromisoformat(other) <= self.before

    def __repr__(self) -> str:
        return f"<a time between {self.after.isoformat()} and {self.before.isoformat()}>"


class Matching:
    """Equal to a string that `pattern` matches whole: a value the server makes up."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.pattern.fullmatch(other) is not None

    def __repr__(self) -> str:
        return f"<a string matching {self.pattern.pattern!r}>"


# A compact JWS (a JWT), and a signed device token: base64url segments joined by dots/colons.
A_JWT = Matching(r"[\w-]+\.[\w-]+\.[\w-]+")
A_TOKEN = Matching(r"[\w.:-]{20,}")


def profile_expected(account: Account, *, display_name: str = "", bio: str = "") -> dict[str, Any]:
    """The profile the contract promises `account`, written out: its id one of its user
    model's, `date_joined` within its signup.
    """
    return {
        "id": UserId(),
        "username": account.username,
        "email": account.email,
        "display_name": display_name,
        "bio": bio,
        "date_joined": TimeBetween(account.signed_up_after, account.signed_up_before),
    }


def account_named(name: str, password: str) -> Account:
    """An account of a name and an address no other test uses: the servers and the SMTP
    server outlive the test.
    """
    tag = f"{name}-{uuid.uuid4().hex[:10]}"
    email = f"{tag}@example.com"
    return Account(username=email if logs_in_by_email() else tag, email=email, password=password)


@dataclass
class Site:
    """One server of a configuration, whose account mail goes to the tests' SMTP server."""

    configuration: str
    server: LiveServer | RunServer
    smtp: SmtpServer
    # The agents made since the last `agents_close()`.
    agents: list[StackClient] = field(default_factory=list)

    def __post_init__(self) -> None:
        SERVED.add(self.configuration)

    @property
    def url(self) -> str:
        """Where it serves."""
        return self.server.url

    def route(self, endpoint: str, mode: str | None = None, **params: object) -> str:
        """The URL of `endpoint`: `mode`'s own when given and it has one, else the shared one,
        with its parameters filled in.
        """
        routes = MODE_ROUTES[mode] if mode is not None else {}
        route = routes.get(endpoint) or SHARED_ROUTES[endpoint]
        filled = PARAMETER.sub(lambda found: str(params[found[2]]), route)
        return self.url + api_prefix() + filled

    def client(self, mode: str | None = None) -> httpx.Client:
        """An HTTP client of this site: the routes of the table it reaches (`mode`'s and the
        shared ones) are noted.
        """
        exercised = EXERCISED[self.configuration]

        def note(response: httpx.Response) -> None:
            exercised.update(routes_of(mode, response.request.url.path))

        # runserver sends a response's head and body in separate packets: on a connection kept
        # alive, the client's delayed ACK holds the body back some 40 ms (a browser waits that
        # out too). Closing the connection after each answer spares the suite the wait.
        headers = {"Connection": "close"} if self.configuration == RUNSERVER else {}
        return http_client(headers=headers, event_hooks={"response": [note]})

    def agent(self, mode: str) -> StackClient:
        """A user agent of `mode` with no credential yet."""
        self.agents.append(StackClient(mode, self.client(mode)))
        return self.agents[-1]

    def replay_of(self, agent: StackClient) -> StackClient:
        """Another agent holding the very same credentials as `agent`, as an attacker would."""
        self.agents.append(agent.clone())
        return self.agents[-1]

    def agents_close(self) -> None:
        """Close the agents made so far."""
        for agent in self.agents:
            agent.close()
        self.agents.clear()

    def mail(self, to: str, count: int) -> EmailMessage:
        """The `count`th mail to `to`, once it came (mail leaves in the background)."""
        return self.smtp.wait(to, count)[count - 1]

    def signup(self, account: Account) -> httpx.Response:
        """Sign `account` up as a visitor does; the answer."""
        body = {"username": account.username, "email": account.email, "password": account.password}
        with self.client() as http:
            return http.post(self.route("signup"), json=body)

    def account_make(self, name: str, password: str) -> Account:
        """A new user with a verified address, made over HTTP as a user makes one."""
        named = account_named(name, password)
        after = datetime.now(UTC)
        signup = self.signup(named)
        assert signup.status_code == 202, signup.text
        account = replace(named, signed_up_after=after, signed_up_before=datetime.now(UTC))
        with self.client() as http:
            key = key_of(self.mail(account.email, 1))
            verify = http.post(
                self.route("email-verify"), json={"key": key, "password": account.password}
            )
        assert verify.json() == {"email": account.email, "verified": True}, verify.text
        return account

    def manage(self, *args: str, **env: str) -> None:
        """Run a management command on this site's database, as its operator would."""
        subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env={**self.server.env, **env},
            check=True,
            capture_output=True,
        )


class FormReader(HTMLParser):
    """The fields of one form of an HTML page, as a browser would submit them unchanged."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.fields: list[tuple[str, str]] = []
        self._inside = False
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._inside = found.get("id") == self.form_id
        if not self._inside:
            return
        name = found.get("name")
        kind = found.get("type", "text")
        if tag == "input" and name and kind not in {"submit", "button", "file"}:
            if kind not in {"checkbox", "radio"}:
                self.fields.append((name, found.get("value", "")))
            elif "checked" in found:
                self.fields.append((name, found.get("value", "on")))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in found:
            self.fields.append((self._select, found.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields.append((name, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, text = self.fields[-1]
            self.fields[-1] = (name, text + data)


def form_fields(html: str, form_id: str) -> list[tuple[str, str]]:
    """The fields the form `form_id` of `html` would submit as it stands."""
    reader = FormReader(form_id)
    reader.feed(html)
    assert reader.fields, f"no form {form_id} with fields"
    return reader.fields


class Admin:
    """A staff member at a site's Django admin, in a browser of their own."""

    def __init__(self, site: Site, account: Account) -> None:
        self.site = site
        self.http = site.client()
        page = self.http.get(f"{site.url}/admin/login/")
        form = dict(form_fields(page.text, "login-form"))
        form |= {"username": account.username, "password": account.password}
        login = self.http.post(f"{site.url}/admin/login/?next=/admin/", data=form)
        assert login.status_code == 302, login.text

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def user_url(self, user_id: object, action: str) -> str:
        """The admin page `action` (change, delete) of the user `user_id`."""
        meta = get_user_model()._meta
        return f"{self.site.url}/admin/{meta.app_label}/{meta.model_name}/{user_id}/{action}/"

    def user_deactivate(self, user_id: object) -> None:
        """Untick "active" on the user's change form and save it, as an operator would."""
        url = self.user_url(user_id, "change")
        page = self.http.get(url)
        assert page.status_code == 200, page.text
        form: dict[str, list[str]] = {"_save": ["Save"]}
        for name, value in form_fields(page.text, f"{get_user_model()._meta.model_name}_form"):
            if name != "is_active":
                form.setdefault(name, []).append(value)
        saved = self.http.post(url, data=form)
        assert saved.status_code == 302, saved.text

    def user_delete(self, user_id: object) -> None:
        """Delete the user from its admin page, confirming as an operator would."""
        url = self.user_url(user_id, "delete")
        page = self.http.get(url)
        assert page.status_code == 200, page.text
        # The confirmation form holds the CSRF token and `post`, nothing else.
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, page.text
        deleted = self.http.post(url, data={"csrfmiddlewaretoken": token[1], "post": "yes"})
        assert deleted.status_code == 302, deleted.text


def staff_make(site: Site, password: str) -> Account:
    """A superuser made by `createsuperuser` on the site's database, as its operator makes one."""
    staff = account_named("sam", password)
    site.manage(
        "createsuperuser",
        "--noinput",
        DJANGO_SUPERUSER_USERNAME=staff.username,
        DJANGO_SUPERUSER_EMAIL=staff.email,
        DJANGO_SUPERUSER_PASSWORD=staff.password,
    )
    return staff


def logged_in_at(site: Site, agent: StackClient, account: Account) -> StackClient:
    """`agent`, logged in at the site as `account` the way its mode does."""
    response = agent.login(site.url, account.username, account.password)
    assert response.status_code == 200, response.text
    return agent


def cache_directives(response: httpx.Response) -> set[str]:
    """The directives of the `Cache-Control` header of `response`."""
    return {part.strip() for part in response.headers.get("Cache-Control", "").split(",")}
