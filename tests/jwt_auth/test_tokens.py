"""The classic JWT attacks against the real endpoints: each is a 401 token_not_valid.

Every forged token differs from one the server would accept in exactly one way; the first
test proves that the forger, left alone, makes tokens the server accepts.
"""

import base64
import secrets
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient
from rest_framework_simplejwt import settings as simplejwt_settings
from time_machine import TimeMachineFixture

from common.conf import dualauth_settings
from jwt_auth.keys import key_set
from tests.conftest import PASSWORD
from tests.jwt_keys import (
    b64url,
    b64url_json,
    jws_unsigned,
    public_pem,
    rsa_private_pem,
    segment_decode,
)
from tests.modes import ModeClient

pytestmark = pytest.mark.django_db

PROFILE = "/api/jwt/profile/"
RESOLVER_PROFILE = "/api/profile/"
REFRESH = "/api/jwt/token/refresh/"
VERIFY = "/api/jwt/token/verify/"
LOGOUT = "/api/jwt/logout/"
COOKIE_REFRESH = "/api/jwt/cookie/refresh/"
COOKIE_LOGOUT = "/api/jwt/cookie/logout/"
Forge = Callable[..., str]


def assert_not_valid(response: Any) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid", response.content


def bearer(api: APIClient, access: str, path: str = PROFILE) -> Any:
    return api.get(path, HTTP_AUTHORIZATION=f"Bearer {access}")


def verify(api: APIClient, token: str) -> Any:
    return api.post(VERIFY, {"token": token}, format="json")


def refresh(api: APIClient, token: str) -> Any:
    return api.post(REFRESH, {"refresh": token}, format="json")


def assert_access_refused(api: APIClient, access: str) -> None:
    """Refused as a Bearer token on both profile routes and by token/verify/."""
    assert_not_valid(bearer(api, access))
    assert_not_valid(bearer(api, access, RESOLVER_PROFILE))
    assert_not_valid(verify(api, access))


def header_of(token: str) -> dict[str, Any]:
    return segment_decode(token.split(".")[0])


def claims_of(token: str) -> dict[str, Any]:
    return segment_decode(token.split(".")[1])


def test_the_forger_left_alone_makes_tokens_the_server_accepts(
    api: APIClient, pair: dict[str, Any], forge: Forge
) -> None:
    access, refresh_token = forge(pair["access"]), forge(pair["refresh"])

    assert bearer(api, access).status_code == 200
    assert verify(api, access).status_code == 200
    assert refresh(api, refresh_token).status_code == 200


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused_in_every_capitalisation(
    api: APIClient, pair: dict[str, Any], alg: str
) -> None:
    access = jws_unsigned({**header_of(pair["access"]), "alg": alg}, claims_of(pair["access"]))
    refresh_token = jws_unsigned(
        {**header_of(pair["refresh"]), "alg": alg}, claims_of(pair["refresh"])
    )

    assert_access_refused(api, access)
    assert_not_valid(verify(api, refresh_token))
    assert_not_valid(refresh(api, refresh_token))


def test_an_hs256_token_is_refused_when_rs256_is_configured(
    api: APIClient,
    jwt_configure: Callable[..., None],
    rsa_pem: str,
    obtain: Callable[[], dict[str, Any]],
    forge: Forge,
) -> None:
    hmac_secret = simplejwt_settings.api_settings.SIGNING_KEY
    jwt_configure("RS256", rsa_pem)
    access = obtain()["access"]

    assert_access_refused(api, forge(access, header={"alg": "HS256"}, key=hmac_secret))


def test_an_hs256_token_signed_with_the_rs256_public_key_is_refused(
    api: APIClient,
    jwt_configure: Callable[..., None],
    rsa_pem: str,
    obtain: Callable[[], dict[str, Any]],
    forge: Forge,
) -> None:
    jwt_configure("RS256", rsa_pem)
    access = obtain()["access"]
    attack = forge(access, header={"alg": "HS256"}, key=public_pem(rsa_pem))

    assert bearer(api, forge(access)).status_code == 200
    assert_access_refused(api, attack)


def test_an_rs256_token_is_refused_when_hs256_is_configured(
    api: APIClient,
    jwt_configure: Callable[..., None],
    obtain: Callable[[], dict[str, Any]],
    forge: Forge,
) -> None:
    jwt_configure("HS256", secrets.token_urlsafe(48))
    attack = forge(obtain()["access"], header={"alg": "RS256"}, key=rsa_private_pem())

    assert_access_refused(api, attack)


def test_a_payload_changed_to_another_user_keeping_the_signature_is_refused(
    api: APIClient, pair: dict[str, Any], make_user: Callable[..., User]
) -> None:
    bob = make_user("bob")
    head, body, signature = pair["access"].split(".")
    claims = {**segment_decode(body), "sub": str(bob.pk)}
    tampered = f"{head}.{b64url_json(claims)}.{signature}"

    assert_access_refused(api, tampered)


def test_a_changed_signature_is_refused(api: APIClient, pair: dict[str, Any]) -> None:
    head, body, signature = pair["access"].split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 1

    assert_access_refused(api, f"{head}.{body}.{b64url(bytes(raw))}")
    assert_access_refused(api, f"{head}.{body}.")


@pytest.mark.parametrize(
    "kid",
    [
        "not-a-key-of-ours",
        "../../etc/passwd",
        "' OR 1=1 --",
        "",
        1,
        {"kid": "x"},
        ["x"],
        None,
    ],
    ids=["unknown", "path", "sql", "empty", "number", "object", "list", "null"],
)
def test_an_injected_kid_is_refused(
    api: APIClient, pair: dict[str, Any], forge: Forge, kid: Any
) -> None:
    assert_access_refused(api, forge(pair["access"], header={"kid": kid}))


def test_a_token_without_a_kid_is_refused(
    api: APIClient, pair: dict[str, Any], forge: Forge
) -> None:
    assert_access_refused(api, forge(pair["access"], drop_header=("kid",)))


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["b64"], "b64": True},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0"}},
    ],
    ids=["crit", "jku", "x5u", "x5c", "jwk"],
)
def test_key_naming_and_critical_headers_are_refused_even_on_an_otherwise_valid_token(
    api: APIClient, pair: dict[str, Any], forge: Forge, extra: dict[str, Any]
) -> None:
    assert_access_refused(api, forge(pair["access"], header=extra))


def test_an_inline_jwk_of_the_attackers_own_key_is_refused(
    api: APIClient,
    jwt_configure: Callable[..., None],
    rsa_pem: str,
    obtain: Callable[[], dict[str, Any]],
    forge: Forge,
) -> None:
    jwt_configure("RS256", rsa_pem)
    access = obtain()["access"]
    attacker = rsa_private_pem()
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(
        jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(
            public_pem(attacker)
        ),
        as_dict=True,
    )

    assert_access_refused(api, forge(access, header={"jwk": jwk}, key=attacker))
    assert_access_refused(api, forge(access, header={"jwk": jwk, "kid": "attacker"}, key=attacker))


def test_an_expired_token_is_refused(api: APIClient, pair: dict[str, Any], forge: Forge) -> None:
    now = int(time.time())
    expired = forge(pair["access"], claims={"iat": now - 120, "exp": now - 60})

    assert_access_refused(api, expired)


def test_a_token_not_yet_valid_is_refused(
    api: APIClient, pair: dict[str, Any], forge: Forge
) -> None:
    later = forge(pair["access"], claims={"nbf": int(time.time()) + 60})
    already = forge(pair["access"], claims={"nbf": int(time.time()) - 60})

    assert bearer(api, already).status_code == 200
    assert_access_refused(api, later)


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "sub", "iss", "aud", "token_type", "fam"])
def test_a_token_missing_a_required_claim_is_refused(
    api: APIClient, pair: dict[str, Any], forge: Forge, claim: str
) -> None:
    assert_access_refused(api, forge(pair["access"], drop_claims=(claim,)))


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "sub", "iss", "aud", "token_type", "fam"])
def test_a_refresh_token_missing_a_required_claim_is_refused(
    api: APIClient, pair: dict[str, Any], forge: Forge, claim: str
) -> None:
    assert_not_valid(refresh(api, forge(pair["refresh"], drop_claims=(claim,))))


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "someone-else"},
        {"iss": ["dualauth"]},
        {"aud": "another-api"},
        {"aud": ["another-api"]},
    ],
    ids=["iss-wrong", "iss-list", "aud-wrong", "aud-list-without-ours"],
)
def test_a_token_for_another_issuer_or_audience_is_refused(
    api: APIClient, pair: dict[str, Any], forge: Forge, claims: dict[str, Any]
) -> None:
    assert_access_refused(api, forge(pair["access"], claims=claims))


def test_a_refresh_token_is_refused_as_an_access_token(
    api: APIClient, pair: dict[str, Any]
) -> None:
    assert_not_valid(bearer(api, pair["refresh"]))
    assert_not_valid(bearer(api, pair["refresh"], RESOLVER_PROFILE))


def test_an_access_token_is_refused_as_a_refresh_token(
    api: APIClient, pair: dict[str, Any]
) -> None:
    assert_not_valid(refresh(api, pair["access"]))


def test_a_token_relabelled_with_another_type_is_refused(
    api: APIClient, pair: dict[str, Any], forge: Forge
) -> None:
    assert_not_valid(bearer(api, forge(pair["access"], claims={"token_type": "refresh"})))
    assert_not_valid(refresh(api, forge(pair["refresh"], claims={"token_type": "access"})))


def test_the_signing_key_is_not_secret_key() -> None:
    assert django_settings.SIMPLE_JWT["SIGNING_KEY"]
    assert simplejwt_settings.api_settings.SIGNING_KEY != django_settings.SECRET_KEY


def test_a_token_signed_with_secret_key_is_refused(
    api: APIClient, pair: dict[str, Any], forge: Forge
) -> None:
    secret_key = django_settings.SECRET_KEY

    assert_access_refused(api, forge(pair["access"], key=secret_key))
    assert_access_refused(api, forge(pair["access"], header={"kid": "secret-key"}, key=secret_key))


def test_new_tokens_name_their_key_and_algorithm(pair: dict[str, Any]) -> None:
    keys = key_set()

    assert header_of(pair["access"]) == {"alg": keys.algorithm, "kid": keys.kid, "typ": "JWT"}
    assert header_of(pair["refresh"])["kid"] == keys.kid


@pytest.mark.parametrize("garbage", ["x", "a.b.c", "..", "e30.e30.", "ey.ey.ey", "W10.e30.x"])
def test_garbage_tokens_are_refused_without_a_server_error(api: APIClient, garbage: str) -> None:
    assert_access_refused(api, garbage)
    assert_not_valid(refresh(api, garbage))


def test_a_new_issuer_and_audience_take_effect_in_process(
    api: APIClient, settings: Any, pair: dict[str, Any], obtain: Callable[[], dict[str, Any]]
) -> None:
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ISSUER": "dualauth-2", "AUDIENCE": "api-2"}
    access = obtain()["access"]

    assert claims_of(access)["iss"] == "dualauth-2"
    assert claims_of(access)["aud"] == "api-2"
    assert bearer(api, access).status_code == 200
    assert_access_refused(api, pair["access"])


def test_a_token_used_before_is_refused_once_it_expires(
    user: User, time_machine: TimeMachineFixture
) -> None:
    client = APIClient()
    tokens = client.post(
        "/api/jwt/token/", {"username": user.username, "password": PASSWORD}, format="json"
    ).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get(PROFILE).status_code == 200
    claims = claims_of(tokens["access"])
    lifetime = simplejwt_settings.api_settings.ACCESS_TOKEN_LIFETIME
    assert claims["exp"] - claims["iat"] == lifetime.total_seconds()

    time_machine.move_to(claims["exp"] - 1, tick=False)
    assert client.get(PROFILE).status_code == 200
    time_machine.move_to(claims["exp"], tick=False)
    assert_not_valid(client.get(PROFILE))


def cookie_request(api: APIClient, method: str, path: str, cookies: dict[str, str]) -> Any:
    """Send `cookies` as the SPA does, with the CSRF token on an unsafe request."""
    for name, value in cookies.items():
        api.cookies[name] = value
    return ModeClient("jwt-cookie", api).request(method, path)


def access_cookie(token: str) -> dict[str, str]:
    return {dualauth_settings.ACCESS_COOKIE_NAME: token}


def refresh_cookie(token: str) -> dict[str, str]:
    return {dualauth_settings.REFRESH_COOKIE_NAME: token}


# Every endpoint that takes a token: which token of the pair it takes, and how it is sent.
TOKEN_ENDPOINTS: dict[str, tuple[str, Callable[[APIClient, str], Any]]] = {
    "bearer-profile": ("access", bearer),
    "access-cookie-profile": (
        "access",
        lambda api, token: cookie_request(api, "get", RESOLVER_PROFILE, access_cookie(token)),
    ),
    "token-refresh": ("refresh", refresh),
    "token-verify-access": ("access", verify),
    "token-verify-refresh": ("refresh", verify),
    "logout": ("refresh", lambda api, token: api.post(LOGOUT, {"refresh": token}, format="json")),
    "cookie-refresh": (
        "refresh",
        lambda api, token: cookie_request(api, "post", COOKIE_REFRESH, refresh_cookie(token)),
    ),
    "cookie-logout": (
        "refresh",
        lambda api, token: cookie_request(api, "post", COOKIE_LOGOUT, refresh_cookie(token)),
    ),
    "cookie-logout-by-access": (
        "access",
        lambda api, token: cookie_request(api, "post", COOKIE_LOGOUT, access_cookie(token)),
    ),
}
MALFORMED_CLAIMS = {
    "exp-string": {"exp": "9999999999"},
    "exp-beyond-datetime": {"exp": 10**20},
    "exp-float-beyond-datetime": {"exp": 1e300},
    "iat-string": {"iat": "1700000000"},
    "iat-boolean": {"iat": True},
    "iat-before-datetime": {"iat": -(10**20)},
    "iat-float-before-datetime": {"iat": -1e300},
    "nbf-string": {"nbf": "1700000000"},
    "nbf-before-datetime": {"nbf": -(10**20)},
    "nbf-list": {"nbf": [1700000000]},
    "jti-number": {"jti": 1},
    "sub-number": {"sub": 1},
    "sub-not-digits": {"sub": "alice"},
    "sub-padded": {"sub": " 1"},
    "sub-negative": {"sub": "-1"},
    "sub-beyond-a-primary-key": {"sub": "9" * 30},
    "fam-not-a-uuid": {"fam": "not-a-uuid"},
    "fam-number": {"fam": 1234},
    "fam-hyphenated": {"fam": "00000000-0000-0000-0000-000000000000"},
    "token_type-number": {"token_type": 1},
    "token_type-list": {"token_type": ["access", "refresh"]},
}


@pytest.mark.parametrize("endpoint", TOKEN_ENDPOINTS.keys())
def test_every_token_endpoint_accepts_a_token_the_forger_leaves_alone(
    api: APIClient, pair: dict[str, Any], forge: Forge, endpoint: str
) -> None:
    kind, send = TOKEN_ENDPOINTS[endpoint]

    assert send(api, forge(pair[kind])).status_code in (200, 204)


@pytest.mark.parametrize("claims", MALFORMED_CLAIMS.values(), ids=MALFORMED_CLAIMS.keys())
@pytest.mark.parametrize("endpoint", TOKEN_ENDPOINTS.keys())
def test_a_token_with_a_claim_of_the_wrong_type_or_range_is_refused_on_every_endpoint(
    api: APIClient, pair: dict[str, Any], forge: Forge, endpoint: str, claims: dict[str, Any]
) -> None:
    kind, send = TOKEN_ENDPOINTS[endpoint]

    assert_not_valid(send(api, forge(pair[kind], claims=claims)))


def test_a_refresh_token_naming_another_user_than_its_family_rotates_nothing(
    api, pair, forge, make_user
):
    bob = make_user("bob")
    swapped = forge(pair["refresh"], claims={"sub": str(bob.pk)})
    response = api.post("/api/jwt/token/refresh/", {"refresh": swapped}, "json")
    assert response.status_code == 401
    assert (
        api.post("/api/jwt/token/refresh/", {"refresh": pair["refresh"]}, "json").status_code == 200
    )
