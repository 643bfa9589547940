"""A project with its own user model and URL prefix adopts dualauth: every mode works over HTTP."""

import uuid
from typing import Any

import httpx
import pytest

from common.routes import JWT_HEADER, MODES, SESSION, SHARED_ROUTES
from tests.adoption.conftest import EMAIL, PASSWORD, PREFIX, adoption_path, manage
from tests.mail import SmtpServer, key_of, link_of

pytestmark = pytest.mark.server
# The adopting project (tests/adoption/settings.py) keeps Django's and dualauth's default
# cookie names: its server, not this process's settings, decides them.
CREDENTIAL_COOKIES = {"session": "sessionid", "jwt-cookie": "access_token"}


class Agent:
    """A browser (cookies and CSRF) or a mobile app (Bearer tokens) of one mode."""

    def __init__(self, http: httpx.Client, mode: str) -> None:
        self.mode = mode
        self.http = http
        self.tokens: dict[str, str] = {}

    def request(self, method: str, endpoint: str, json: Any = None) -> httpx.Response:
        """Send a request to `endpoint` of this mode with this mode's credentials."""
        headers = {}
        if self.mode == JWT_HEADER:
            if self.tokens:
                headers["Authorization"] = f"Bearer {self.tokens['access']}"
        elif method != "GET":
            if "csrftoken" not in self.http.cookies:
                self.http.get(adoption_path(SESSION, "csrf"))
            headers["X-CSRFToken"] = self.http.cookies["csrftoken"]
        path = adoption_path(self.mode, endpoint)
        return self.http.request(method, path, json=json, headers=headers)

    def post(self, endpoint: str) -> httpx.Response:
        """Refresh or log out: a mobile app sends its refresh token, a browser its cookies."""
        body = {"refresh": self.tokens["refresh"]} if self.mode == JWT_HEADER else None
        response = self.request("POST", endpoint, body)
        if self.mode == JWT_HEADER and endpoint == "refresh" and response.status_code == 200:
            self.tokens = response.json()
        return response

    def credential(self) -> str:
        """The raw credential this agent authenticates with."""
        if self.mode == JWT_HEADER:
            return self.tokens["access"]
        return str(self.http.cookies[CREDENTIAL_COOKIES[self.mode]])

    def replay(self, credential: str) -> httpx.Response:
        """Read the profile with `credential` alone, as an attacker who kept it would."""
        if self.mode == JWT_HEADER:
            headers = {"Authorization": f"Bearer {credential}"}
        else:
            headers = {"Cookie": f"{CREDENTIAL_COOKIES[self.mode]}={credential}"}
        url = self.http.base_url.join(adoption_path(self.mode, "profile"))
        return httpx.get(url, headers=headers, timeout=15)


def test_the_adopting_project_passes_the_system_checks(adoption_env):
    assert "no issues" in manage(adoption_env, "check", "--fail-level", "WARNING")
    manage(adoption_env, "check", "--deploy")


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_logs_in_reads_the_profile_and_logs_out_for_good(adoption_server, mode):
    with httpx.Client(base_url=adoption_server.url, timeout=15) as http:
        agent = Agent(http, mode)
        login = agent.request("POST", "login", {"username": EMAIL, "password": PASSWORD})
        assert login.status_code == 200, login.text
        if mode == JWT_HEADER:
            agent.tokens = login.json()

        profile = agent.request("GET", "profile")
        assert profile.status_code == 200, profile.text
        assert profile.headers["Auth-Mode"] == mode
        assert "no-store" in profile.headers["Cache-Control"]
        assert profile.json()["username"] == profile.json()["email"] == EMAIL
        assert uuid.UUID(str(profile.json()["id"]))

        if mode != SESSION:
            # The refresh cookie's path follows the prefix: the browser still sends it.
            before = agent.credential()
            assert agent.post("refresh").status_code == 200
            assert agent.credential() != before
            assert agent.request("GET", "profile").status_code == 200

        credential = agent.credential()
        assert agent.post("logout").status_code == 204
        replayed = agent.replay(credential)
        assert replayed.status_code == 401
        assert replayed.json()["code"] in {"not_authenticated", "token_revoked"}


def test_the_api_and_its_documentation_are_served_under_the_chosen_prefix(adoption_server):
    schema = httpx.get(f"{adoption_server.url}{PREFIX}{SHARED_ROUTES['schema']}?format=json")
    assert schema.status_code == 200, schema.text
    paths = schema.json()["paths"]
    assert adoption_path(JWT_HEADER, "login") in paths
    assert all(path.startswith(PREFIX) for path in paths)
    docs = httpx.get(f"{adoption_server.url}{PREFIX}{SHARED_ROUTES['docs']}")
    assert docs.status_code == 200
    assert docs.headers["Content-Type"].startswith("text/html")


def test_a_request_django_refuses_before_any_view_is_answered_in_json(adoption_server):
    response = httpx.get(
        f"{adoption_server.url}{adoption_path(SESSION, 'profile')}",
        headers={"Host": "elsewhere.example"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_an_account_signs_up_verifies_its_address_and_logs_in_under_the_chosen_prefix(
    adoption_server, smtp_server: SmtpServer
):
    email = f"grace-{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"username": email, "password": "a new passphrase 11"}
    login = adoption_path(JWT_HEADER, "login")
    with httpx.Client(base_url=adoption_server.url, timeout=15) as http:
        # The user model logs in by email: the address is the name, no username is asked.
        signup = http.post(
            PREFIX + SHARED_ROUTES["signup"],
            json={"email": email, "password": credentials["password"]},
        )
        assert (signup.status_code, signup.json()["code"]) == (202, "verification_sent")
        [message] = smtp_server.wait(email)
        assert link_of(message).startswith(
            "https://app.adoption.example/welcome#action=verify-email&key="
        )

        unverified = http.post(login, json=credentials)
        assert (unverified.status_code, unverified.json()["code"]) == (403, "email_not_verified")

        verified = http.post(
            PREFIX + SHARED_ROUTES["email-verify"], json={"key": key_of(message), **credentials}
        )
        assert verified.json() == {"email": email, "verified": True}
        tokens = http.post(login, json=credentials).json()
        account = http.get(
            PREFIX + SHARED_ROUTES["account"],
            headers={"Authorization": f"Bearer {tokens['access']}"},
        )
        assert account.json()["email_verified"] is True
