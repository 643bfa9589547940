"""The ID token's checks against a real provider: signature, issuer, audience, time, keys."""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from time_machine import TimeMachineFixture

from common.conf import dualauth_settings
from common.providers.exceptions import ProviderTokenNotValid
from common.providers.registry import provider_get
from common.providers.tokens import TokenRefused, email_verified, id_token_verify
from tests.common.providers.conftest import PROVIDER
from tests.oidc import NATIVE_CLIENT_ID, OidcProvider, SigningKey

NONCE = "a-nonce-of-the-server"


def _verify(op: OidcProvider, token: str, nonce: str = NONCE) -> dict[str, Any]:
    return id_token_verify(provider=provider_get(provider_id=PROVIDER), id_token=token, nonce=nonce)


def _refusal(op: OidcProvider, token: str) -> str:
    with pytest.raises(ProviderTokenNotValid) as refused:
        _verify(op, token)
    assert isinstance(refused.value.__cause__, TokenRefused)
    return str(refused.value.__cause__)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_valid_token_passes_with_its_claims(provider):
    claims = _verify(provider, provider.id_token(nonce=NONCE))
    assert claims["sub"] == "subject-1"
    assert claims["email"] == "alice@example.com"


def test_a_token_signed_by_another_key_is_refused(provider):
    # The provider's key id, an attacker's key.
    forged = SigningKey.new()
    forged.kid = provider.keys[0].kid
    assert "Signature" in _refusal(provider, provider.id_token(key=forged, nonce=NONCE))


def test_alg_none_and_hs256_signed_with_the_public_key_are_refused(provider):
    kid = provider.keys[0].kid
    claims = provider.claims(nonce=NONCE)
    unsigned = f"{_b64({'alg': 'none', 'kid': kid})}.{_b64(claims)}."
    assert "algorithm" in _refusal(provider, unsigned)
    public_pem = (
        provider.keys[0]
        .private.public_key()
        .public_bytes(encoding=Encoding.PEM, format=PublicFormat.SubjectPublicKeyInfo)
    )
    header = _b64({"alg": "HS256", "kid": kid, "typ": "JWT"})
    body = _b64(claims)
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    assert "algorithm" in _refusal(provider, confused)


def test_a_token_of_another_issuer_is_refused(provider):
    reason = _refusal(provider, provider.id_token(iss="https://accounts.google.com", nonce=NONCE))
    assert "Issuer" in reason


def test_a_token_for_an_audience_not_configured_is_refused(provider):
    reason = _refusal(provider, provider.id_token(aud="someone-elses-client", nonce=NONCE))
    assert "Audience" in reason
    # Ours among several, but issued to another party.
    several = provider.id_token(aud=["someone-elses-client", NATIVE_CLIENT_ID], nonce=NONCE)
    assert "authorized party" in _refusal(provider, several)


def test_a_token_for_a_native_client_id_in_audiences_is_accepted(provider):
    claims = _verify(provider, provider.id_token(aud=NATIVE_CLIENT_ID, nonce=NONCE))
    assert claims["aud"] == NATIVE_CLIENT_ID


def test_an_expired_token_is_refused_past_the_leeway(provider, time_machine: TimeMachineFixture):
    time_machine.move_to(time.time(), tick=False)
    token = provider.id_token(nonce=NONCE)
    leeway = dualauth_settings.PROVIDER_LEEWAY.total_seconds()
    time_machine.shift(600 + leeway - 1)
    assert _verify(provider, token)["sub"] == "subject-1"
    time_machine.shift(2)
    assert "expired" in _refusal(provider, token)


def test_a_token_issued_in_the_future_is_refused(provider):
    leeway = dualauth_settings.PROVIDER_LEEWAY.total_seconds()
    token = provider.id_token(iat=int(time.time() + leeway + 60), nonce=NONCE)
    assert "future" in _refusal(provider, token) or "yet valid" in _refusal(provider, token)


def test_a_token_without_a_subject_or_a_nonce_claim_is_refused(provider):
    assert "sub" in _refusal(provider, provider.id_token(sub=None, nonce=NONCE))
    assert "nonce" in _refusal(provider, provider.id_token())
    assert "nonce" in _refusal(provider, provider.id_token(nonce="another"))


def test_garbage_is_refused_without_a_server_error(provider):
    for token in ["", "a.b.c", "....", "x" * 20000, f"{_b64({'alg': 'RS256'})}.e30.sig"]:
        with pytest.raises(ProviderTokenNotValid):
            _verify(provider, token)


def test_apple_email_verified_as_a_string_is_read():
    assert email_verified({"email_verified": True})
    assert email_verified({"email_verified": "true"})
    for value in [False, "false", "True", 1, None, "yes"]:
        assert not email_verified({"email_verified": value})
    assert not email_verified({})


def test_the_jwks_is_fetched_once_across_many_logins_and_again_on_rotation(
    own_op, configure, settings
):
    configure(own_op, PROVIDER_JWKS_COOLDOWN=timedelta(seconds=0))
    for _ in range(10):
        _verify(own_op, own_op.id_token(nonce=NONCE))
    assert own_op.hits["/jwks"] == 1
    assert own_op.hits["/.well-known/openid-configuration"] == 1
    own_op.rotate()
    for _ in range(10):
        _verify(own_op, own_op.id_token(nonce=NONCE))
    assert own_op.hits["/jwks"] == 2
    # A key id nobody has costs at most one fetch per cooldown.
    settings.DUALAUTH = {**settings.DUALAUTH, "PROVIDER_JWKS_COOLDOWN": timedelta(seconds=30)}
    stranger = SigningKey.new()
    for _ in range(5):
        with pytest.raises(ProviderTokenNotValid):
            _verify(own_op, own_op.id_token(key=stranger, nonce=NONCE))
    # The client made under the new cooldown fetched once, and not again for the stranger.
    assert own_op.hits["/jwks"] == 3


def test_an_unknown_critical_header_is_refused(provider):
    token = provider.id_token(headers={"crit": ["exp-ext"], "exp-ext": 1}, nonce=NONCE)
    with pytest.raises(ProviderTokenNotValid):
        _verify(provider, token)
