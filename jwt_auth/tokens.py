"""simplejwt's tokens, signed with a `kid`, carrying their login family, checked strictly."""

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from django.core.signals import setting_changed
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token, UntypedToken

from common.memo import BoundedMemo
from common.principal import UserId, user_id_parse
from jwt_auth.keys import KeySet, key_set

FAMILY_CLAIM = "fam"
# The confirmation of a token bound to a client's key: {"jkt": <thumbprint>} (RFC 9449 6.1).
CONFIRMATION_CLAIM = "cnf"
# Headers that would let a token name its own key or extend the rules (RFC 8725 3.10).
REFUSED_HEADERS = frozenset({"crit", "jku", "x5u", "x5c", "jwk"})
# Verified tokens remembered per process (the oldest forgotten first): a client sends
# the same access token for minutes, and parsing it is most of what a request costs.
VERIFIED_TOKENS_KEPT = 4096
# Besides simplejwt's USER_ID_CLAIM, whatever it is named.
REQUIRED_CLAIMS = ["exp", "iat", "jti", "iss", "aud", "token_type", FAMILY_CLAIM]
# Claims that simplejwt and `_check_times` compare as numbers and convert to datetimes.
TIME_CLAIMS = ("exp", "iat", "nbf")
# The last second a datetime holds: simplejwt cannot convert a later `exp`.
MAX_EPOCH_SECONDS = int(datetime.max.replace(tzinfo=UTC).timestamp())
STRING_CLAIMS = ("jti", "token_type", FAMILY_CLAIM)
# `fam` as `token_build` writes it: a UUID's `hex`, which the family lookups parse.
FAMILY_ID = re.compile(r"[0-9a-f]{32}")


def _required_claims() -> list[str]:
    """Every claim a token must carry, the configured user id claim included."""
    return [*REQUIRED_CLAIMS, simplejwt_settings.api_settings.USER_ID_CLAIM]


def _epoch_valid(value: Any) -> bool:
    """Whether `value` is a number of seconds since 1970 that a datetime can hold."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 <= value <= MAX_EPOCH_SECONDS
    )


def _claims_valid(payload: dict[str, Any]) -> bool:
    """Whether the claims this code reads have the types and ranges it relies on."""
    if not all(_epoch_valid(payload[name]) for name in TIME_CLAIMS if name in payload):
        return False
    if not all(isinstance(payload[name], str) for name in STRING_CLAIMS):
        return False
    confirmation = payload.get(CONFIRMATION_CLAIM)
    if confirmation is not None and not (
        isinstance(confirmation, dict)
        and isinstance(confirmation.get("jkt"), str)
        and confirmation["jkt"]
    ):
        # A confirmation this service does not write: bound to something it cannot check.
        return False
    user_id = payload[simplejwt_settings.api_settings.USER_ID_CLAIM]
    return (
        isinstance(user_id, str)
        and user_id_parse(user_id) is not None
        and FAMILY_ID.fullmatch(payload[FAMILY_CLAIM]) is not None
    )


class KeyedTokenBackend(TokenBackend):
    """Signs with the current key and its `kid`; verifies with the key the `kid` names."""

    def __init__(self) -> None:
        settings = simplejwt_settings.api_settings
        super().__init__(
            algorithm=key_set().algorithm,
            audience=settings.AUDIENCE,
            issuer=settings.ISSUER,
            leeway=settings.LEEWAY,
        )
        self._verified: BoundedMemo[str, dict[str, Any]] = BoundedMemo(VERIFIED_TOKENS_KEPT)
        self._verified_keys: KeySet | None = None

    def encode(self, payload: dict[str, Any]) -> str:
        """Sign `payload` with the current key, naming it in the `kid` header."""
        keys = key_set()
        claims = {**payload, "aud": self.audience, "iss": self.issuer}
        return jwt.encode(
            claims, keys.signing_key, algorithm=keys.algorithm, headers={"kid": keys.kid}
        )

    def decode(self, token: Token | str | bytes, verify: bool = True) -> dict[str, Any]:
        """Verify `token` strictly and return its claims; a token seen before skips the parse.

        What a verification proves depends only on the token's bytes and the keys, except
        for time: a remembered token has its `exp` and `nbf` checked again at every use.
        """
        keys = key_set()
        verified = self._verified
        if keys is not self._verified_keys:
            verified, self._verified_keys = BoundedMemo(VERIFIED_TOKENS_KEPT), keys
            self._verified = verified
        raw = token.decode(errors="replace") if isinstance(token, bytes) else str(token)
        remembered = verified.get(raw) if verify else None
        if remembered is not None:
            self._check_times(remembered)
            return dict(remembered)
        payload = self._decode(token, keys, verify)
        if verify:
            verified.put(raw, payload)
        return dict(payload)

    def _check_times(self, payload: dict[str, Any]) -> None:
        """Refuse a remembered token that has expired or is not yet valid."""
        now = time.time()
        leeway = self.get_leeway().total_seconds()
        if payload["exp"] <= now - leeway:
            raise TokenBackendExpiredToken("Token is expired")
        if "nbf" in payload and payload["nbf"] > now + leeway:
            raise TokenBackendError("Token is not yet valid")

    def _decode(self, token: Token | str | bytes, keys: KeySet, verify: bool) -> dict[str, Any]:
        """Parse and verify `token` with the key its `kid` names."""
        try:
            header = jwt.get_unverified_header(token)  # type: ignore[arg-type]
        except jwt.InvalidTokenError as e:
            raise TokenBackendError("Token is invalid") from e
        if REFUSED_HEADERS & set(header) or header.get("alg") != keys.algorithm:
            raise TokenBackendError("Token header is not accepted")
        kid = header.get("kid")
        key = keys.verifying_keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenBackendError("Token is signed with an unknown key")
        try:
            payload: dict[str, Any] = jwt.decode(
                token,  # type: ignore[arg-type]
                key,
                algorithms=[keys.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={"require": _required_claims(), "verify_signature": verify},
            )
        except jwt.ExpiredSignatureError as e:
            raise TokenBackendExpiredToken("Token is expired") from e
        except jwt.InvalidTokenError as e:
            raise TokenBackendError("Token is invalid") from e
        # PyJWT takes as a time any value `int()` takes, and leaves most claims unchecked:
        # a string `exp` or a non-UUID `fam` would fail later, as a server error.
        if not _claims_valid(payload):
            raise TokenBackendError("Token is invalid")
        return payload


_backend: KeyedTokenBackend | None = None


def token_backend() -> KeyedTokenBackend:
    """The backend of the current configuration."""
    global _backend
    if _backend is None:
        _backend = KeyedTokenBackend()
    return _backend


def _forget_backend(*, setting: str, **kwargs: Any) -> None:
    # The backend holds the issuer, audience and leeway it was built with.
    global _backend
    if setting == "SIMPLE_JWT":
        _backend = None


setting_changed.connect(_forget_backend)


class KeyedTokenMixin:
    """Uses `KeyedTokenBackend` and simplejwt's current lifetimes."""

    def get_token_backend(self) -> TokenBackend:
        """The keyed backend."""
        return token_backend()


class FamilyAccessToken(KeyedTokenMixin, AccessToken):
    """An access token of one login family."""


class FamilyRefreshToken(KeyedTokenMixin, RefreshToken):  # type: ignore[misc]
    """A refresh token of one login family."""

    access_token_class = FamilyAccessToken


class FamilyUntypedToken(KeyedTokenMixin, UntypedToken):
    """A token of either type, for verification."""


def token_build(
    token_class: type[FamilyAccessToken] | type[FamilyRefreshToken],
    *,
    user_id: UserId,
    family_id: str,
    jti: str,
    issued_at: datetime,
    expires_at: datetime,
    claims: dict[str, Any] | None = None,
) -> str:
    """Sign a token from its claims alone (`claims` besides the usual ones): the same claims
    give the same token.
    """
    token = token_class()
    token.set_iat(at_time=issued_at)
    token.set_exp(from_time=issued_at, lifetime=expires_at - issued_at)
    token[simplejwt_settings.api_settings.JTI_CLAIM] = jti
    token[simplejwt_settings.api_settings.USER_ID_CLAIM] = str(user_id)
    token[FAMILY_CLAIM] = family_id
    for name, value in (claims or {}).items():
        token[name] = value
    return str(token)


def token_key_thumbprint(token: Token) -> str | None:
    """The thumbprint of the key a token is bound to (`cnf.jkt`, RFC 9449 6.1), or None."""
    confirmation = token.get(CONFIRMATION_CLAIM)
    return None if confirmation is None else str(confirmation["jkt"])


def lifetime(token_class: type[FamilyAccessToken] | type[FamilyRefreshToken]) -> timedelta:
    """The configured lifetime of `token_class`."""
    settings = simplejwt_settings.api_settings
    if token_class is FamilyAccessToken:
        return settings.ACCESS_TOKEN_LIFETIME
    return settings.REFRESH_TOKEN_LIFETIME
