"""DPoP (RFC 9449) on the jwt-header mode: binding, every check of a proof with its failure."""

import base64
import hashlib
import json
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, OKPAlgorithm
from rest_framework.exceptions import APIException
from rest_framework.test import APIClient

from clients.mobile.dpop import DpopKey
from common.conf import dualauth_settings
from common.models import LoginFamily
from jwt_auth.dpop import (
    access_token_hash,
    dpop_nonce_issue,
    dpop_proof_verify,
    htu_normalise,
    jwk_thumbprint,
)
from tests.conftest import login_name, require_shared_cache

ALICE = login_name("alice")
ORIGIN = "http://testserver"
TOKEN = "/api/jwt/token/"
REFRESH = "/api/jwt/token/refresh/"
PROFILE = "/api/jwt/profile/"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(method: str, path: str, **extra: Any) -> dict[str, Any]:
    return {
        "jti": uuid.uuid4().hex,
        "htm": method,
        "htu": ORIGIN + path,
        "iat": int(time.time()),
        **extra,
    }


def _signed(
    private_key: Any, claims: dict[str, Any], *, algorithm: str = "ES256", **header: Any
) -> str:
    """A proof signed by `private_key` whose header and claims the test chose."""
    jwk = json.loads(
        ECAlgorithm.to_jwk(private_key.public_key())
        if isinstance(private_key, ec.EllipticCurvePrivateKey)
        else OKPAlgorithm.to_jwk(private_key.public_key())
    )
    headers = {"typ": "dpop+jwt", "jwk": jwk, **header}
    return jwt.encode(claims, private_key, algorithm=algorithm, headers=headers)


def _dpop(key: DpopKey, method: str, path: str, access: str | None = None, **kw: Any) -> dict:
    return {"HTTP_DPOP": key.proof(method=method, url=ORIGIN + path, access_token=access, **kw)}


def _login(api: APIClient, password: str, key: DpopKey | None) -> dict[str, Any]:
    extra = _dpop(key, "POST", TOKEN) if key is not None else {}
    response = api.post(TOKEN, {"username": ALICE, "password": password}, "json", **extra)
    assert response.status_code == 200, response.json()
    return dict(response.json())


def _profile(access: str, key: DpopKey | None, scheme: str = "DPoP", **proof: Any):
    client = APIClient()
    extra = _dpop(key, "GET", PROFILE, access, **proof) if key is not None else {}
    return client.get(PROFILE, HTTP_AUTHORIZATION=f"{scheme} {access}", **extra)


def _refresh(api: APIClient, refresh: str, key: DpopKey | None):
    extra = _dpop(key, "POST", REFRESH) if key is not None else {}
    return api.post(REFRESH, {"refresh": refresh}, "json", **extra)


def _payload(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


@pytest.fixture
def key() -> DpopKey:
    """The client's key."""
    return DpopKey.generate()


@pytest.fixture
def thief_key() -> DpopKey:
    """Another key: whoever copied the tokens has this one, not the client's."""
    return DpopKey.generate()


@pytest.fixture
def bound(api: APIClient, user: Any, password: str, key: DpopKey) -> dict[str, Any]:
    """A login bound to `key`: its token pair."""
    return _login(api, password, key)


@pytest.fixture
def dpop_settings(settings: Any):
    """Change DUALAUTH's DPoP settings for one test."""

    def change(**values: Any) -> None:
        settings.DUALAUTH = {**settings.DUALAUTH, **values}

    return change


def test_a_login_with_a_proof_is_bound_to_its_key(bound, key):
    assert bound["token_type"] == "DPoP"
    assert _payload(bound["access"])["cnf"] == {"jkt": key.thumbprint}
    assert _payload(bound["refresh"])["cnf"] == {"jkt": key.thumbprint}
    assert LoginFamily.objects.get().dpop_jkt == key.thumbprint


def test_a_login_without_a_proof_is_a_bearer_login(api, user, password):
    body = _login(api, password, None)
    assert body["token_type"] == "Bearer"
    assert "cnf" not in _payload(body["access"])
    assert _profile(body["access"], None, "Bearer").status_code == 200


def test_the_thumbprint_is_rfc_7638s(key):
    # RFC 7638 3.1's example key and thumbprint.
    example = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
        "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0"
        "_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI"
        "4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(example) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert jwk_thumbprint(key.jwk) == key.thumbprint


def test_a_bound_access_token_with_a_proof_of_its_key_is_accepted(bound, key):
    response = _profile(bound["access"], key)
    assert response.status_code == 200
    assert response["Auth-Mode"] == "jwt-header"


def test_an_eddsa_proof_is_accepted(api, user, password):
    private = ed25519.Ed25519PrivateKey.generate()
    proof = _signed(private, _claims("POST", TOKEN), algorithm="EdDSA")
    response = api.post(TOKEN, {"username": ALICE, "password": password}, "json", HTTP_DPOP=proof)
    assert response.status_code == 200
    jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    assert _payload(response.json()["access"])["cnf"]["jkt"] == jwk_thumbprint(jwk)


def test_a_bound_access_token_sent_as_bearer_is_refused(bound):
    response = _profile(bound["access"], None, "Bearer")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert response["WWW-Authenticate"].startswith("DPoP ")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert 'algs="ES256 EdDSA"' in response["WWW-Authenticate"]


def test_a_bound_access_token_sent_as_dpop_without_a_proof_is_refused(bound):
    response = _profile(bound["access"], None, "DPoP")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_dpop_proof"
    assert 'error="invalid_dpop_proof"' in response["WWW-Authenticate"]


def test_a_bound_access_token_with_a_proof_of_another_key_is_refused(bound, thief_key):
    response = _profile(bound["access"], thief_key)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_dpop_proof"
    assert response["WWW-Authenticate"].startswith("DPoP ")


def test_a_bound_access_token_in_the_access_cookie_is_refused(bound):
    client = APIClient()
    client.cookies[dualauth_settings.ACCESS_COOKIE_NAME] = bound["access"]
    response = client.get("/api/profile/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_an_unbound_access_token_sent_as_dpop_is_refused(api, user, password, key):
    body = _login(api, password, None)
    response = _profile(body["access"], key)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_the_shared_endpoints_accept_a_bound_token_with_its_proof(bound, key):
    client = APIClient()
    path = "/api/profile/"
    extra = _dpop(key, "GET", path, bound["access"])
    response = client.get(path, HTTP_AUTHORIZATION=f"DPoP {bound['access']}", **extra)
    assert response.status_code == 200


def test_a_refresh_of_a_bound_login_with_its_key_rotates_and_stays_bound(api, bound, key):
    response = _refresh(api, bound["refresh"], key)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert body["refresh"] != bound["refresh"]
    assert _payload(body["access"])["cnf"] == {"jkt": key.thumbprint}
    assert _profile(body["access"], key).status_code == 200


def _unchanged_after(api: APIClient, bound: dict, key: DpopKey, attempt: Any) -> None:
    """`attempt` is refused with 400 and the owner's login goes on as if it never happened."""
    family = LoginFamily.objects.get()
    response = attempt()
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_dpop_proof"
    after = LoginFamily.objects.get()
    assert (after.refresh_jti, after.previous_jti, after.revoked_at) == (
        family.refresh_jti,
        family.previous_jti,
        None,
    )
    assert _profile(bound["access"], key).status_code == 200
    assert _refresh(api, bound["refresh"], key).status_code == 200


def test_a_refresh_of_a_bound_login_with_another_key_changes_nothing(api, bound, key, thief_key):
    _unchanged_after(api, bound, key, lambda: _refresh(api, bound["refresh"], thief_key))


def test_a_refresh_of_a_bound_login_without_a_proof_changes_nothing(api, bound, key):
    _unchanged_after(api, bound, key, lambda: _refresh(api, bound["refresh"], None))


def test_a_rotated_refresh_token_of_a_bound_login_without_its_key_sets_off_no_reuse(
    api, bound, key, thief_key, settings
):
    # Reuse detection would end the owner's login: only the key's holder can set it off.
    settings.DUALAUTH = {**settings.DUALAUTH, "REFRESH_GRACE_PERIOD": timedelta(0)}
    assert _refresh(api, bound["refresh"], key).status_code == 200
    for thief in (thief_key, None):
        response = _refresh(api, bound["refresh"], thief)
        assert response.json()["code"] == "invalid_dpop_proof"
    assert LoginFamily.objects.get().revoked_at is None
    assert _refresh(api, bound["refresh"], key).json()["code"] == "token_reused"


def test_a_bound_login_stays_bound_to_its_first_key(api, bound, key, thief_key, dpop_settings):
    dpop_settings(DPOP="off")
    assert _refresh(api, bound["refresh"], None).status_code == 400
    dpop_settings(DPOP="optional")
    assert _refresh(api, bound["refresh"], thief_key).status_code == 400
    assert LoginFamily.objects.get().dpop_jkt == key.thumbprint


def test_a_refresh_with_a_proof_binds_an_unbound_login(api, user, password, key, thief_key):
    body = _login(api, password, None)
    response = _refresh(api, body["refresh"], key)
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["token_type"] == "DPoP"
    assert _profile(rotated["access"], key).status_code == 200
    assert _refresh(api, rotated["refresh"], thief_key).status_code == 400


def test_the_cookie_refresh_of_a_bound_login_is_refused(api, bound):
    client = APIClient(enforce_csrf_checks=True)
    client.cookies[dualauth_settings.REFRESH_COOKIE_NAME] = bound["refresh"]
    client.get("/api/session/csrf/")
    response = client.post(
        "/api/jwt/cookie/refresh/", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value
    )
    assert response.status_code == 400
    assert LoginFamily.objects.get().revoked_at is None


def test_a_login_without_a_proof_is_refused_when_dpop_is_required(
    api, user, password, key, dpop_settings
):
    dpop_settings(DPOP="required")
    response = api.post(TOKEN, {"username": ALICE, "password": password}, "json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_dpop_proof"
    assert not LoginFamily.objects.exists()
    assert _login(api, password, key)["token_type"] == "DPoP"


def test_a_login_with_a_proof_is_not_bound_when_dpop_is_off(
    api, user, password, key, dpop_settings
):
    dpop_settings(DPOP="off")
    assert _login(api, password, key)["token_type"] == "Bearer"


def test_a_proof_with_alg_none_or_hmac_is_refused(api, user, password):
    claims = _claims("POST", TOKEN)
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    secret = "s" * 64
    forged = [
        jwt.encode(claims, None, algorithm="none", headers={"typ": "dpop+jwt", "jwk": jwk}),
        jwt.encode(
            claims,
            secret,
            algorithm="HS256",
            headers={"typ": "dpop+jwt", "jwk": {"kty": "oct", "k": _b64url(secret.encode())}},
        ),
        jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "dpop+jwt", "jwk": jwk}),
    ]
    for proof in forged:
        response = api.post(
            TOKEN, {"username": ALICE, "password": password}, "json", HTTP_DPOP=proof
        )
        assert response.status_code == 400, proof
        assert response.json()["code"] == "invalid_dpop_proof"
    assert not LoginFamily.objects.exists()


def test_an_algorithm_outside_the_allow_list_is_refused(api, user, password, key, dpop_settings):
    dpop_settings(DPOP_ALGORITHMS=["EdDSA"])
    response = api.post(
        TOKEN, {"username": ALICE, "password": password}, "json", **_dpop(key, "POST", TOKEN)
    )
    assert response.json()["code"] == "invalid_dpop_proof"


def _login_with(api: APIClient, password: str, proof: str):
    return api.post(TOKEN, {"username": ALICE, "password": password}, "json", HTTP_DPOP=proof)


def test_a_proof_with_a_private_key_in_its_header_is_refused(api, user, password):
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(ECAlgorithm.to_jwk(private))
    assert "d" in jwk
    proof = _signed(private, _claims("POST", TOKEN), jwk=jwk)
    assert _login_with(api, password, proof).json()["code"] == "invalid_dpop_proof"


def test_a_proof_with_a_wrong_typ_is_refused(api, user, password):
    private = ec.generate_private_key(ec.SECP256R1())
    for typ in ("JWT", "at+jwt", None):
        proof = _signed(private, _claims("POST", TOKEN), typ=typ)
        assert _login_with(api, password, proof).json()["code"] == "invalid_dpop_proof"


def test_a_proof_naming_a_key_elsewhere_is_refused(api, user, password):
    private = ec.generate_private_key(ec.SECP256R1())
    proof = _signed(private, _claims("POST", TOKEN), jku="https://attacker.example/jwks")
    assert _login_with(api, password, proof).json()["code"] == "invalid_dpop_proof"


def test_a_proof_whose_signature_does_not_verify_is_refused(api, user, password):
    private, other = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    # Signed by one key, naming another in its header.
    proof = jwt.encode(
        _claims("POST", TOKEN),
        private,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": json.loads(ECAlgorithm.to_jwk(other.public_key()))},
    )
    assert _login_with(api, password, proof).json()["code"] == "invalid_dpop_proof"
    head, body, signature = _signed(private, _claims("POST", TOKEN)).split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert _login_with(api, password, f"{head}.{body}.{flipped}").status_code == 400


@pytest.mark.parametrize("proof", ["", "garbage", "a.b.c", "x" * 9000, "e30.e30.", "one,two"])
def test_a_malformed_proof_is_a_400_never_a_500(api, user, password, proof):
    response = _login_with(api, password, proof)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_dpop_proof"


def test_a_proof_for_another_method_is_refused(bound, key):
    client = APIClient()
    extra = _dpop(key, "POST", PROFILE, bound["access"])
    response = client.get(PROFILE, HTTP_AUTHORIZATION=f"DPoP {bound['access']}", **extra)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_dpop_proof"
    assert "htm" in response["WWW-Authenticate"]


def test_a_proof_for_another_url_is_refused(bound, key):
    client = APIClient()
    for path in ("/api/profile/", "/api/jwt/devices/"):
        extra = _dpop(key, "GET", path, bound["access"])
        response = client.get(PROFILE, HTTP_AUTHORIZATION=f"DPoP {bound['access']}", **extra)
        assert response.status_code == 401
        assert "htu" in response["WWW-Authenticate"]
    other_host = {
        "HTTP_DPOP": key.proof(
            method="GET", url="http://evil.example" + PROFILE, access_token=bound["access"]
        )
    }
    response = client.get(PROFILE, HTTP_AUTHORIZATION=f"DPoP {bound['access']}", **other_host)
    assert response.status_code == 401


def test_htu_is_compared_without_query_and_with_scheme_and_host_normalised(bound, key):
    assert htu_normalise("HTTPS://Example.COM:443/a/b?x=1#f") == "https://example.com/a/b"
    assert htu_normalise("http://example.com:80") == "http://example.com/"
    assert htu_normalise("http://example.com:8080/a") == "http://example.com:8080/a"
    assert htu_normalise("ftp://example.com/") is None
    assert htu_normalise("http://[::1]:99999/") is None
    client = APIClient()
    proof = key.proof(
        method="GET", url="HTTP://TestServer:80" + PROFILE, access_token=bound["access"]
    )
    response = client.get(
        PROFILE + "?page=2", HTTP_AUTHORIZATION=f"DPoP {bound['access']}", HTTP_DPOP=proof
    )
    assert response.status_code == 200


def test_htu_is_the_url_the_proxy_was_asked_for(bound, key, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = ["api.example.com", "testserver"]
    client = APIClient()
    headers = {
        "HTTP_AUTHORIZATION": f"DPoP {bound['access']}",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_HOST": "api.example.com",
    }
    public = "https://api.example.com" + PROFILE
    proof = key.proof(method="GET", url=public, access_token=bound["access"])
    assert client.get(PROFILE, HTTP_DPOP=proof, **headers).status_code == 200
    inner = key.proof(method="GET", url=ORIGIN + PROFILE, access_token=bound["access"])
    assert client.get(PROFILE, HTTP_DPOP=inner, **headers).status_code == 401


def test_a_proof_for_another_access_token_is_refused(api, user, password, bound, key):
    other = _login(api, password, key)
    client = APIClient()
    extra = _dpop(key, "GET", PROFILE, other["access"])
    response = client.get(PROFILE, HTTP_AUTHORIZATION=f"DPoP {bound['access']}", **extra)
    assert response.status_code == 401
    assert "ath" in response["WWW-Authenticate"]
    assert access_token_hash("abc") == _b64url(hashlib.sha256(b"abc").digest())


def test_a_stale_or_future_proof_is_refused(bound, key, time_machine):
    leeway = dualauth_settings.DPOP_IAT_LEEWAY.total_seconds()
    now = time.time()
    time_machine.move_to(now, tick=False)
    made = key.proof(method="GET", url=ORIGIN + PROFILE, access_token=bound["access"], now=now)
    client = APIClient()
    auth = {"HTTP_AUTHORIZATION": f"DPoP {bound['access']}"}
    time_machine.move_to(now + leeway + 1, tick=False)
    response = client.get(PROFILE, HTTP_DPOP=made, **auth)
    assert response.status_code == 401
    assert "iat" in response["WWW-Authenticate"]
    ahead = key.proof(
        method="GET", url=ORIGIN + PROFILE, access_token=bound["access"], now=now + 2 * leeway + 2
    )
    assert client.get(PROFILE, HTTP_DPOP=ahead, **auth).status_code == 401
    within = key.proof(
        method="GET", url=ORIGIN + PROFILE, access_token=bound["access"], now=now + 2
    )
    assert client.get(PROFILE, HTTP_DPOP=within, **auth).status_code == 200


def test_a_replayed_proof_is_refused(bound, key):
    client = APIClient()
    extra = _dpop(key, "GET", PROFILE, bound["access"])
    auth = {"HTTP_AUTHORIZATION": f"DPoP {bound['access']}"}
    assert client.get(PROFILE, **extra, **auth).status_code == 200
    again = client.get(PROFILE, **extra, **auth)
    assert again.status_code == 401
    assert "used before" in again["WWW-Authenticate"]
    assert (
        client.get(PROFILE, **_dpop(key, "GET", PROFILE, bound["access"]), **auth).status_code
        == 200
    )


def _warm_cost(monkeypatch: Any, access: str, key: DpopKey | None) -> tuple[int, int]:
    """The Redis round trips (a pipeline is one) and SQL statements of a second profile read."""
    scheme = "Bearer" if key is None else "DPoP"
    assert _profile(access, key, scheme).status_code == 200
    trips = []
    # The request's own: a push channel's subscriber thread, left by another test of this
    # process, pings its Redis meanwhile.
    serving = threading.get_ident()
    for owner, name in ((redis.Redis, "execute_command"), (redis.client.Pipeline, "execute")):
        original = getattr(owner, name)

        def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if threading.get_ident() == serving:
                trips.append(1)
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
    with CaptureQueriesContext(connection) as queries:
        assert _profile(access, key, scheme).status_code == 200
    monkeypatch.undo()
    return len(trips), len(queries.captured_queries)


def test_a_bound_request_records_its_proof_in_the_round_trip_that_reads_its_login(
    api, user, password, key, monkeypatch
):
    require_shared_cache()
    bearer = _login(api, password, None)
    bound = _login(api, password, key)
    assert _warm_cost(monkeypatch, bound["access"], key) == _warm_cost(
        monkeypatch, bearer["access"], None
    )
    assert _warm_cost(monkeypatch, bound["access"], key)[0] == 1


def test_a_replayed_proof_is_refused_at_the_token_endpoint(api, user, password, key):
    extra = _dpop(key, "POST", TOKEN)
    body = {"username": ALICE, "password": password}
    assert api.post(TOKEN, body, "json", **extra).status_code == 200
    response = api.post(TOKEN, body, "json", **extra)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_dpop_proof"


def test_a_replayed_proof_is_refused_while_the_cache_is_down(bound, key, monkeypatch):
    from common import cache

    monkeypatch.setattr(cache, "cache_recovered", lambda: False)
    client = APIClient()
    extra = _dpop(key, "GET", PROFILE, bound["access"])
    auth = {"HTTP_AUTHORIZATION": f"DPoP {bound['access']}"}
    assert client.get(PROFILE, **extra, **auth).status_code == 200
    assert client.get(PROFILE, **extra, **auth).status_code == 401


def test_the_nonce_dance_at_the_token_endpoint(api, user, password, key, dpop_settings):
    dpop_settings(DPOP_NONCE=True)
    body = {"username": ALICE, "password": password}
    proof = key.proof(method="POST", url=ORIGIN + TOKEN)
    first = api.post(TOKEN, body, "json", HTTP_DPOP=proof)
    assert first.status_code == 400
    assert first.json()["code"] == "use_dpop_nonce"
    nonce = first["DPoP-Nonce"]
    assert not LoginFamily.objects.exists()
    retry = api.post(TOKEN, body, "json", **_dpop(key, "POST", TOKEN, nonce=nonce))
    assert retry.status_code == 200
    assert retry["DPoP-Nonce"]
    assert retry.json()["token_type"] == "DPoP"


@pytest.mark.parametrize("bound_first", [True, False], ids=["bound", "binding"])
def test_a_refresh_refused_for_its_nonce_rotates_nothing_and_its_retry_does(
    api, user, password, key, dpop_settings, bound_first
):
    pair = _login(api, password, key if bound_first else None)
    dpop_settings(DPOP_NONCE=True)
    first = _refresh(api, pair["refresh"], key)
    assert first.status_code == 400
    assert first.json()["code"] == "use_dpop_nonce"
    family = LoginFamily.objects.get()
    assert family.previous_jti == ""
    assert family.revoked_at is None
    assert family.dpop_jkt == (key.thumbprint if bound_first else "")
    extra = _dpop(key, "POST", REFRESH, nonce=first["DPoP-Nonce"])
    retry = api.post(REFRESH, {"refresh": pair["refresh"]}, "json", **extra)
    assert retry.status_code == 200, retry.json()
    assert retry.json()["token_type"] == "DPoP"
    family.refresh_from_db()
    assert family.previous_jti
    assert family.dpop_jkt == key.thumbprint


def test_the_nonce_dance_at_a_resource(bound, key, dpop_settings):
    dpop_settings(DPOP_NONCE=True)
    client = APIClient()
    auth = {"HTTP_AUTHORIZATION": f"DPoP {bound['access']}"}
    jti_reused = key.proof(method="GET", url=ORIGIN + PROFILE, access_token=bound["access"])
    first = client.get(PROFILE, HTTP_DPOP=jti_reused, **auth)
    assert first.status_code == 401
    assert first.json()["code"] == "use_dpop_nonce"
    assert 'error="use_dpop_nonce"' in first["WWW-Authenticate"]
    nonce = first["DPoP-Nonce"]
    # A refusal for the nonce records nothing: the retry is no replay, even with the same jti.
    jti = _payload(jti_reused)["jti"]
    private = key._private_key
    retry_claims = _claims(
        "GET", PROFILE, jti=jti, nonce=nonce, ath=access_token_hash(bound["access"])
    )
    retry = jwt.encode(
        retry_claims, private, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": key.jwk}
    )
    assert client.get(PROFILE, HTTP_DPOP=retry, **auth).status_code == 200


def test_a_stale_nonce_is_refused(bound, key, dpop_settings, time_machine):
    dpop_settings(DPOP_NONCE=True)
    now = time.time()
    time_machine.move_to(now, tick=False)
    nonce = dpop_nonce_issue()
    time_machine.move_to(
        now + 2 * dualauth_settings.DPOP_NONCE_LIFETIME.total_seconds() + 1, tick=False
    )
    client = APIClient()
    response = client.get(
        PROFILE,
        HTTP_AUTHORIZATION=f"DPoP {bound['access']}",
        **_dpop(key, "GET", PROFILE, bound["access"], nonce=nonce),
    )
    # The proof is checked before the token: its nonce is what is refused.
    assert response.status_code == 401
    assert response.json()["code"] == "use_dpop_nonce"
    for forged in ("1.abc", f"{nonce.partition('.')[0]}.{'A' * 22}", 7):
        claims = _claims("GET", PROFILE, nonce=forged, ath=access_token_hash(bound["access"]))
        proof = jwt.encode(
            claims, key._private_key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": key.jwk}
        )
        refused = client.get(PROFILE, HTTP_AUTHORIZATION=f"DPoP {bound['access']}", HTTP_DPOP=proof)
        assert refused.json()["code"] == "use_dpop_nonce"


_SEGMENT = st.one_of(
    st.text(max_size=40),
    st.dictionaries(
        st.sampled_from(["typ", "alg", "jwk", "jti", "htm", "htu", "iat", "ath", "nonce"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=10),
            st.sampled_from(["dpop+jwt", "ES256", "EdDSA"]),
            st.dictionaries(
                st.sampled_from(["kty", "crv", "x", "y", "d", "n", "e"]),
                st.one_of(st.text(max_size=8), st.sampled_from(["EC", "OKP", "RSA", "P-256"])),
                max_size=5,
            ),
        ),
        max_size=6,
    ).map(lambda claims: _b64url(json.dumps(claims).encode())),
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(head=_SEGMENT, body=_SEGMENT, signature=_SEGMENT)
def test_no_spoilt_proof_raises_more_than_a_refusal(head, body, signature):
    with pytest.raises(APIException):
        dpop_proof_verify(
            proof=f"{head}.{body}.{signature}",
            method="GET",
            url=ORIGIN + PROFILE,
            access_token="token",
            resource=True,
        )
