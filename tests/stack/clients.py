"""An HTTP user agent of one mode that talks to any instance of the stack by its URL."""

from collections.abc import Iterable
from typing import Any

import httpx
from django.contrib.auth.models import User

from tests.conftest import PASSWORD
from tests.modes import CREDENTIAL_COOKIES, LOGIN_PATHS, PROFILE_PATHS

LOGOUT_PATHS = {
    "session": "/api/session/logout/",
    "jwt-header": "/api/jwt/logout/",
    "jwt-cookie": "/api/jwt/cookie/logout/",
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class StackClient:
    """A browser (cookies and CSRF) or a mobile app (Bearer tokens) of one mode.

    Cookies ignore the port, so one cookie jar serves every instance on 127.0.0.1.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.http = httpx.Client(timeout=15)
        self.tokens: dict[str, str] = {}

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def request(self, method: str, url: str, json: Any = None) -> httpx.Response:
        """Send a request with this mode's credentials; unsafe cookie requests carry CSRF."""
        headers = {}
        if self.mode == "jwt-header" and "access" in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens['access']}"
        if method in UNSAFE and self.mode != "jwt-header":
            if "csrftoken" not in self.http.cookies:
                self.http.get(url.split("/api/")[0] + "/api/session/csrf/")
            headers["X-CSRFToken"] = self.http.cookies["csrftoken"]
        return self.http.request(method, url, json=json, headers=headers)

    def login(self, base: str, username: str, password: str) -> httpx.Response:
        """Log in on the instance at `base`."""
        body: dict[str, Any] = {"username": username, "password": password}
        if self.mode == "session":
            body["remember"] = True
        response = self.request("POST", base + LOGIN_PATHS[self.mode], body)
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
        response = self.request(
            "POST", base + "/api/jwt/token/refresh/", {"refresh": self.tokens["refresh"]}
        )
        if response.status_code == httpx.codes.OK:
            self.tokens = response.json()
        return response

    def logout(self, base: str) -> httpx.Response:
        """Log out the way this mode does, on the instance at `base`."""
        body = {"refresh": self.tokens["refresh"]} if self.mode == "jwt-header" else None
        return self.request("POST", base + LOGOUT_PATHS[self.mode], body)

    def logout_all(self, base: str) -> httpx.Response:
        """Revoke every login of the user, on the instance at `base`."""
        return self.request("POST", base + "/api/logout-all/")

    def clone(self) -> "StackClient":
        """Another agent holding the very same credentials, as a replaying attacker would."""
        other = StackClient(self.mode)
        other.tokens = dict(self.tokens)
        for cookie in self.http.cookies.jar:
            other.http.cookies.jar.set_cookie(cookie)
        return other

    def credential(self) -> str:
        """The raw credential this agent authenticates with."""
        if self.mode == "jwt-header":
            return self.tokens["access"]
        return str(self.http.cookies[CREDENTIAL_COOKIES[self.mode]])


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
