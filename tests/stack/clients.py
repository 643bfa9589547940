"""An HTTP user agent of one mode that talks to any instance of the stack by its URL."""

from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from django.contrib.auth.models import User

from tests.modes import LOGIN_PATHS, PASSWORD, PROFILE_PATHS, credential_cookie, csrf_cookie

LOGOUT_PATHS = {
    "session": "/api/session/logout/",
    "jwt-header": "/api/jwt/logout/",
    "jwt-cookie": "/api/jwt/cookie/logout/",
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Loading the CA bundle costs a new client tens of milliseconds: one context serves them all.
TLS_CONTEXT = httpx.create_ssl_context()


def http_client(**options: Any) -> httpx.Client:
    """An httpx client with the agents' timeout and TLS context; `options` are httpx's."""
    return httpx.Client(timeout=15, verify=TLS_CONTEXT, **options)


class StackClient:
    """A browser (cookies and CSRF) or a mobile app (Bearer tokens) of one mode.

    Cookies ignore the port, so one cookie jar serves every instance on 127.0.0.1. It sends
    through `http` (its headers and event hooks apply to every request), else a plain client.
    """

    def __init__(self, mode: str, http: httpx.Client | None = None) -> None:
        self.mode = mode
        self.http = http or http_client()
        self.tokens: dict[str, str] = {}

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def request(
        self,
        method: str,
        url: str,
        json: Any = None,
        *,
        csrf: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request with this mode's credentials; unsafe cookie requests carry CSRF
        unless `csrf` is false. `headers` are sent too, over those.
        """
        sent = {}
        if self.mode == "jwt-header" and "access" in self.tokens:
            sent["Authorization"] = f"Bearer {self.tokens['access']}"
        if csrf and method in UNSAFE and self.mode != "jwt-header":
            sent["X-CSRFToken"] = self.csrf_token(url)
        return self.http.request(method, url, json=json, headers={**sent, **(headers or {})})

    def csrf_token(self, url: str) -> str:
        """The browser's CSRF token, fetched from the instance of `url` once, as the SPA does."""
        if csrf_cookie() not in self.http.cookies:
            self.http.get(url.split("/api/")[0] + "/api/session/csrf/")
        return self.http.cookies[csrf_cookie()]

    def login(self, base: str, username: str, password: str, **extra: Any) -> httpx.Response:
        """Log in on the instance at `base`; `extra` goes into the body too."""
        body: dict[str, Any] = {"username": username, "password": password}
        if self.mode == "session":
            body["remember"] = True
        return self.answer_take(self.request("POST", base + LOGIN_PATHS[self.mode], body | extra))

    def answer_take(self, response: httpx.Response) -> httpx.Response:
        """Keep the tokens a login answer carries in the header mode; `response` itself."""
        if self.mode == "jwt-header" and response.status_code == httpx.codes.OK:
            self.tokens = response.json()
        return response

    def profile(self, base: str) -> httpx.Response:
        """Read the profile on the instance at `base`."""
        return self.request("GET", base + PROFILE_PATHS[self.mode])

    def profile_update(self, base: str, **fields: str) -> httpx.Response:
        """Edit the profile on the instance at `base`."""
        return self.request("PATCH", base + PROFILE_PATHS[self.mode], fields)

    def refresh(self, base: str) -> httpx.Response:
        """Rotate the tokens (JWT modes); a session lists its sessions instead."""
        if self.mode == "session":
            return self.request("GET", base + "/api/session/sessions/")
        if self.mode == "jwt-cookie":
            return self.request("POST", base + "/api/jwt/cookie/refresh/")
        return self.answer_take(
            self.request(
                "POST", base + "/api/jwt/token/refresh/", {"refresh": self.tokens["refresh"]}
            )
        )

    def logout(self, base: str) -> httpx.Response:
        """Log out the way this mode does, on the instance at `base`."""
        body = {"refresh": self.tokens["refresh"]} if self.mode == "jwt-header" else None
        return self.request("POST", base + LOGOUT_PATHS[self.mode], body)

    def logout_all(self, base: str) -> httpx.Response:
        """Revoke every login of the user, on the instance at `base`."""
        return self.request("POST", base + "/api/logout-all/")

    def clone(self) -> "StackClient":
        """Another agent holding the very same credentials, as a replaying attacker would."""
        other = StackClient(
            self.mode, http_client(headers=self.http.headers, event_hooks=self.http.event_hooks)
        )
        other.tokens = dict(self.tokens)
        for cookie in self.http.cookies.jar:
            other.http.cookies.jar.set_cookie(cookie)
        return other

    def credential(self) -> str:
        """The raw credential this agent authenticates with."""
        if self.mode == "jwt-header":
            return self.tokens["access"]
        return str(self.http.cookies[credential_cookie(self.mode)])


def logged_in(mode: str, base: str, user: User, agents: list[StackClient]) -> StackClient:
    """An agent of `mode` logged in as `user` on the instance at `base`."""
    agent = StackClient(mode)
    agents.append(agent)
    response = agent.login(base, user.username, PASSWORD)
    assert response.status_code == 200, response.text
    return agent


def logged_out(agent: StackClient, base: str, agents: list[StackClient]) -> StackClient:
    """Log `agent` out on `base`; return a replay of its old credentials."""
    replay = agent.clone()
    agents.append(replay)
    assert agent.logout(base).status_code == 204
    return replay


def assert_authenticated(agents: list[StackClient], urls: Iterable[str]) -> None:
    """Every agent is still logged in, on every instance of `urls`."""
    for agent in agents:
        for base in urls:
            response = agent.profile(base)
            assert response.status_code == 200, (agent.mode, base, response.text)


def assert_refused(agents: list[StackClient], urls: Iterable[str]) -> None:
    """Every agent's credentials are refused, on every instance of `urls`."""
    for agent in agents:
        for base in urls:
            response = agent.profile(base)
            assert response.status_code == 401, (agent.mode, base, response.text)
