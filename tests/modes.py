"""One client per mode, so that one scenario can run in `session`, `jwt-header` and `jwt-cookie`."""

from typing import Any

from django.conf import settings
from rest_framework.test import APIClient

from common.conf import dualauth_settings
from common.routes import JWT_COOKIE, MODES, SESSION, mode_path

# The password of every test user.
PASSWORD = "correct horse battery staple"
LOGIN_PATHS: dict[str, str] = {mode: mode_path(mode, "login") for mode in MODES}
PROFILE_PATHS: dict[str, str] = {mode: mode_path(mode, "profile") for mode in MODES}
UNSAFE = {"post", "put", "patch", "delete"}
# Both lists of logins, sessions and devices, show the same fields: the contract's of each.
LOGIN_FIELDS = {"id", "created_at", "last_seen_at", "last_used_at", "user_agent", "ip", "current"}
# The challenge of a 401 from the shared resolver's endpoints, and from each mode's profile
# endpoint (the cookie mode reads the shared one).
SHARED_CHALLENGE = 'Bearer realm="api", Session realm="api"'
PROFILE_CHALLENGES = {
    "session": 'Session realm="api"',
    "jwt-header": 'Bearer realm="api"',
    "jwt-cookie": SHARED_CHALLENGE,
}


def credential_cookie(mode: str) -> str:
    """The name of the cookie that carries a browser mode's credential, as configured now."""
    if mode == SESSION:
        return str(settings.SESSION_COOKIE_NAME)
    if mode == JWT_COOKIE:
        return str(dualauth_settings.ACCESS_COOKIE_NAME)
    raise ValueError(f"{mode} carries its credential in no cookie")


def csrf_cookie() -> str:
    """The name of the cookie that carries the CSRF token, as configured now."""
    return str(settings.CSRF_COOKIE_NAME)


class ModeClient:
    """An APIClient that logs in through one mode and sends that mode's credentials."""

    def __init__(self, mode: str, client: APIClient | None = None) -> None:
        self.mode = mode
        self.client = client or APIClient(enforce_csrf_checks=True)
        self.tokens: dict[str, Any] = {}
        self.bearer = ""

    @property
    def profile_path(self) -> str:
        """Where this mode reads and edits the profile."""
        return PROFILE_PATHS[self.mode]

    def csrf_token(self) -> str:
        """The browser's CSRF token, fetched once as the SPA does."""
        if csrf_cookie() not in self.client.cookies:
            self.client.get(mode_path(SESSION, "csrf"))
        return str(self.client.cookies[csrf_cookie()].value)

    def login(self, username: str, password: str, **extra: Any) -> Any:
        """Log in through this mode's login endpoint."""
        response = self.request(
            "post", LOGIN_PATHS[self.mode], {"username": username, "password": password, **extra}
        )
        if self.mode == "jwt-header" and response.status_code == 200:
            self.tokens = response.json()
            self.use_bearer(self.tokens["access"])
        return response

    def use_bearer(self, access: str) -> None:
        """Send `access` as the Bearer token from now on."""
        self.bearer = access
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")

    def request(self, method: str, path: str, data: Any = None, *, csrf: bool = True) -> Any:
        """Send a request; browser modes add the CSRF header to unsafe ones unless told not to."""
        extra = {}
        if csrf and method in UNSAFE and self.mode != "jwt-header":
            extra["HTTP_X_CSRFTOKEN"] = self.csrf_token()
        return getattr(self.client, method)(path, data, format="json", **extra)

    def logout(self) -> Any:
        """Log out the way this mode does."""
        body = {"refresh": self.tokens["refresh"]} if self.mode == "jwt-header" else None
        return self.request("post", mode_path(self.mode, "logout"), body)

    def credential(self) -> str:
        """The raw credential this client authenticates with."""
        if self.mode == "jwt-header":
            return self.bearer
        return str(self.client.cookies[credential_cookie(self.mode)].value)

    def replay(self, credential: str) -> None:
        """Authenticate with an earlier credential again, as an attacker would."""
        if self.mode == "jwt-header":
            self.use_bearer(credential)
        else:
            self.client.cookies[credential_cookie(self.mode)] = credential
