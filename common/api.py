"""Base views: the `Auth-Mode` header, and the endpoints that take no credentials."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.credentials import CookieChallenge, Credential, csrf_enforce
from common.exceptions import RequestTooLarge
from common.principal import Principal, UserModel
from common.routes import Mode

# What a login endpoint answers once its user proved who they are: (request, user, options).
LoginAnswer = Callable[[Request, UserModel, dict[str, Any]], Response]
# What a mode checks of a login request before any single-use credential in it is used (a
# challenge, a nonce, a code), so that a refused request uses up nothing: (request) -> the
# options it adds to its answer's, which a second step never keeps.
LoginPrecheck = Callable[[Request], dict[str, Any]]


# What a mode adds to every answer of its login endpoints, a second step's included:
# (request, response) -> the response.
LoginFinish = Callable[[Request, Response], Response]


def no_precheck(request: Request) -> dict[str, Any]:
    """The precheck of a mode that checks nothing of a login request but its credentials."""
    return {}


def no_finish(request: Request, response: Response) -> Response:
    """The finish of a mode that adds nothing to its login endpoints' answers."""
    return response


class Api(APIView):
    """An API view whose authenticated responses say how they were authenticated."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Refuse an unsafe request whose body is not JSON before anything else runs.

        Django's CSRF check would read a form body itself, and DRF would then see an
        empty body: a form or text/plain POST must be refused outright instead.
        """
        length = request.META.get("CONTENT_LENGTH", "")
        has_body = length not in ("", "0")
        # DRF reads JSON from the stream, past Django's own limit on the body's size.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if has_body and limit is not None and length.isdigit() and int(length) > limit:
            raise RequestTooLarge()
        if request.method not in SAFE_METHODS and has_body:
            parser = self.get_content_negotiator().select_parser(request, self.get_parsers())
            if parser is None:
                raise UnsupportedMediaType(request.content_type)
        super().initial(request, *args, **kwargs)

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        """The view's one renderer (JSON) without negotiating: the API answers nothing else,
        whatever `Accept` asks for (the contract: JSON out).
        """
        renderers = self.get_renderers()
        if len(renderers) != 1:
            return super().perform_content_negotiation(request, force)
        return renderers[0], str(renderers[0].media_type)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        """Add `Auth-Mode` when a credential authenticated the request."""
        response = super().finalize_response(request, response, *args, **kwargs)
        # `request.auth` would run authentication again after it failed; `_auth` is what it found.
        credential = getattr(request, "_auth", None)
        if isinstance(credential, Credential):
            response["Auth-Mode"] = credential.mode
        return response

    @property
    def user(self) -> Principal:
        """The principal that authenticated this request."""
        assert isinstance(self.request.user, Principal)
        return self.request.user

    @property
    def credential(self) -> Credential:
        """The credential that authenticated this request."""
        assert isinstance(self.request.auth, Credential)
        return self.request.auth


class PublicApi(Api):
    """An endpoint that ignores whatever credentials the request carries."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    www_authenticate: str | CookieChallenge = 'Bearer realm="api"'

    def get_authenticate_header(self, request: Request) -> str:
        """The challenge of a 401 from this endpoint."""
        return str(self.www_authenticate)


@dataclass(frozen=True)
class LoginKind:
    """What a mode's login endpoints differ in: the one login view of each way to log in is
    built for a mode with its kind (`as_view(kind=...)`), which the mode supplies.
    """

    mode: Mode
    # The answer to a user who proved who they are, and the 200 body it has.
    answer: LoginAnswer
    answer_serializer: type[serializers.Serializer]
    # The bodies of its password and of its passkey login: credentials and the mode's options.
    login_input: type[serializers.Serializer]
    passkey_login_input: type[serializers.Serializer]
    # The body of its login with an external provider's ID token.
    provider_login_input: type[serializers.Serializer]
    # A browser's login checks CSRF, so that no one logs a browser in to their own account.
    csrf: bool
    www_authenticate: str | CookieChallenge
    # What a login starts, for the endpoints' descriptions: "Start <starts>, ...".
    starts: str
    # Run by each of its login endpoints before the credentials are checked.
    precheck: LoginPrecheck = no_precheck
    # Run on each answer of its login endpoints: 200, a second step's 202 and errors alike.
    finish: LoginFinish = no_finish


class LoginKindApi(PublicApi):
    """A login endpoint, built once per mode by `as_view(kind=...)`."""

    kind: LoginKind | None = None

    @property
    def login_kind(self) -> LoginKind:
        """The kind the view was built with: one built without is a mistake of the wiring."""
        assert self.kind is not None, f"{type(self).__name__}.as_view(kind=...) was not given"
        return self.kind

    def login_input(
        self, request: Request, serializer_class: type[serializers.Serializer]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The login's body, validated, and what the mode's precheck found: CSRF first for a
        browser's login, and the precheck before any credential in the body is used.
        """
        if self.login_kind.csrf:
            csrf_enforce(request)
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data), self.login_kind.precheck(request)

    def get_authenticate_header(self, request: Request) -> str:
        """The challenge of a 401 from this mode's login."""
        return str(self.login_kind.www_authenticate)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        """The answer, with what the mode adds to each of its logins' answers."""
        finished = self.login_kind.finish(request, response)
        return super().finalize_response(request, finished, *args, **kwargs)
