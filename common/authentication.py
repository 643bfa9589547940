"""Authentication: the steps every mode takes (`FamilyAuthentication`), and the resolver that
picks the mode: Bearer header, else access cookie, else session; never a fall-through.
"""

from abc import abstractmethod
from time import perf_counter
from typing import Any, ClassVar, Generic, TypeVar

from prometheus_client import Histogram
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from common.credentials import CookieChallenge, Credential, csrf_enforce
from common.metrics import AUTHENTICATION_FAILED_SECONDS, AUTHENTICATION_SECONDS
from common.principal import Principal
from common.routes import JWT_COOKIE, JWT_HEADER, SESSION, Mode

# What a mode's credential, once checked on its own, tells its principal step.
Validated = TypeVar("Validated")


class FamilyAuthentication(BaseAuthentication, Generic[Validated]):
    """One mode's authentication, a template method as simplejwt's `JWTAuthentication`:
    the credential, checked, gives a principal; then CSRF, exactly when a cookie carried it.

    A mode fills in the steps. None when its credential is absent; an exception when it is
    present but bad. Each authentication that found a credential is timed, by mode, in
    `dualauth_authentication_seconds` when it passed and in
    `dualauth_authentication_failed_seconds` when it did not. The instances hold no state
    of a request: the resolver shares one of each between threads.
    """

    mode: ClassVar[Mode]
    # A browser sends a cookie on its own, to any site's request: those need CSRF.
    cookie: ClassVar[bool] = False
    www_authenticate: ClassVar[str | CookieChallenge]
    # Looked up once per class: the hot path pays for one `observe`, not for `labels()`.
    passed: ClassVar[Histogram]
    failed: ClassVar[Histogram]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "mode" in cls.__dict__:
            cls.passed = AUTHENTICATION_SECONDS.labels(mode=cls.mode)
            cls.failed = AUTHENTICATION_FAILED_SECONDS.labels(mode=cls.mode)

    def authenticate(self, request: Request) -> tuple[Principal, Credential] | None:
        """The credential's principal and login; None without the credential, 401 for a bad one."""
        raw = self.credential_get(request)
        if raw is None:
            return None
        start = perf_counter()
        try:
            found = self.principal_resolve(request, self.credential_validate(request, raw))
            if self.cookie:
                csrf_enforce(request)
        except Exception:
            self.failed.observe(perf_counter() - start)
            raise
        self.passed.observe(perf_counter() - start)
        return found

    @abstractmethod
    def credential_get(self, request: Request) -> str | None:
        """The credential as the request carries it, or None when it carries none."""

    @abstractmethod
    def credential_validate(self, request: Request, raw: str) -> Validated:
        """What the credential proves on its own (a signature, a session), or an exception."""

    @abstractmethod
    def principal_resolve(
        self, request: Request, validated: Validated
    ) -> tuple[Principal, Credential]:
        """The principal of the live login the credential names, or an exception."""

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401."""
        return str(self.www_authenticate)


# The order a request's credentials are looked for in: the first one present decides.
RESOLUTION_ORDER: tuple[Mode, ...] = (JWT_HEADER, JWT_COOKIE, SESSION)
# Each mode's authentication, registered by the mode's app (its AppConfig.ready()).
_authenticators: dict[Mode, FamilyAuthentication[Any]] = {}
_resolution: list[FamilyAuthentication[Any]] = []


def authentication_register(*, mode: Mode, authenticator: type[FamilyAuthentication[Any]]) -> None:
    """Have the resolver read the credentials of `mode` with `authenticator`."""
    _authenticators[mode] = authenticator()
    _resolution[:] = [_authenticators[m] for m in RESOLUTION_ORDER if m in _authenticators]


class ResolverAuthentication(BaseAuthentication):
    """Tries each mode in order; the first credential present decides, good or bad."""

    def authenticate(self, request: Request) -> tuple[Principal, Credential] | None:
        """The first present credential's user; None when there is none."""
        for authenticator in _resolution:
            result = authenticator.authenticate(request)
            if result is not None:
                return result
        return None

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401: either scheme will do."""
        return 'Bearer realm="api", Session realm="api"'
