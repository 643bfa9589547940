"""The providers' endpoints over HTTP (Django's client), in every mode."""

import time
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.utils import timezone

from bench.processes import free_port
from clients.mobile.dpop import DpopKey
from common.conf import dualauth_settings
from common.mfa.services import totp_enable, totp_setup_get
from common.models import LoginFamily
from common.providers.models import ProviderIdentity, ProviderNonce
from common.routes import SHARED_ROUTES, api_prefix, mode_path
from tests.common.accounts.conftest import dualauth
from tests.common.mfa.conftest import Authenticator, site_request
from tests.common.providers.conftest import PROVIDER, provider_settings
from tests.common.step_up_urls import MAX_AGE
from tests.modes import PASSWORD, ModeClient
from tests.oidc import OidcProvider

pytestmark = pytest.mark.django_db


def shared(endpoint: str, **kwargs: Any) -> str:
    route = SHARED_ROUTES[endpoint]
    for name, value in kwargs.items():
        route = route.replace(f"<int:{name}>", str(value)).replace(f"<str:{name}>", str(value))
    return api_prefix() + route


def nonce_for(client: ModeClient) -> str:
    response = client.client.post(shared("provider-nonce"))
    assert response.status_code == 200, response.content
    assert response.json()["expires_in"] == 600
    return str(response.json()["nonce"])


def provider_login(
    client: ModeClient, op: OidcProvider, *, csrf: bool = True, **claims: Any
) -> Any:
    """An ID-token login through the client's mode's endpoint."""
    nonce = nonce_for(client)
    body = {"provider": PROVIDER, "id_token": op.id_token(nonce=nonce, **claims), "nonce": nonce}
    response = client.request("post", mode_path(client.mode, "login-provider"), body, csrf=csrf)
    if client.mode == "jwt-header" and response.status_code == 200:
        client.tokens = response.json()
        client.use_bearer(client.tokens["access"])
    return response


def test_the_providers_list_shows_the_configured_ones_and_their_flows(provider, api, settings):
    response = api.get(shared("providers"))
    assert response.status_code == 200
    assert response.json() == [{"id": "test", "name": "Test", "flows": ["id_token", "redirect"]}]
    values = provider_settings(provider, client_secret="")
    dualauth(settings, PROVIDERS={"test": values, "google": {"client_id": "g"}})
    assert api.get(shared("providers")).json() == [
        {"id": "test", "name": "Test", "flows": ["id_token"]},
        {"id": "google", "name": "Google", "flows": ["id_token"]},
    ]


def test_provider_login_answers_like_the_modes_password_login(provider, mode, mode_client):
    response = provider_login(mode_client, provider, email="new@example.com", sub="new")
    assert response.status_code == 200, response.content
    body = response.json()
    if mode == "jwt-header":
        assert set(body) == {"access", "refresh", "token_type", "expires_in", "device_token"}
        assert not response.cookies
    else:
        assert body["email"] == "new@example.com"
        assert "access" not in body
    profile = mode_client.request("get", mode_client.profile_path)
    assert profile.status_code == 200
    assert profile["Auth-Mode"] == mode
    assert profile.json()["email"] == "new@example.com"


def test_browser_provider_logins_need_csrf(provider, mode, mode_client):
    response = provider_login(mode_client, provider, csrf=False)
    if mode == "jwt-header":
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "csrf_failed"


def test_provider_login_errors_are_the_contracts_codes(provider, mode_client, user):
    assert provider_login(mode_client, provider).json()["code"] == "account_exists"
    response = provider_login(mode_client, provider, email="x@example.com", email_verified=False)
    assert response.status_code == 400
    assert response.json()["code"] == "provider_email_not_verified"
    response = provider_login(mode_client, provider, aud="another")
    assert (response.status_code, response.json()["code"]) == (400, "provider_token_not_valid")
    nonce = nonce_for(mode_client)
    body = {"provider": "nope", "id_token": "x", "nonce": nonce}
    response = mode_client.request("post", mode_path(mode_client.mode, "login-provider"), body)
    assert (response.status_code, response.json()["code"]) == (400, "provider_not_configured")


def test_refused_tokens_count_as_failed_logins_of_the_address(provider, settings):
    dualauth(settings, LOGIN_FAILURES_PER_ADDRESS=2)
    client = ModeClient("jwt-header")
    for _ in range(2):
        assert provider_login(client, provider, aud="another").status_code == 400
    response = provider_login(client, provider, email="n@example.com", sub="n")
    assert response.status_code == 429
    assert response["Retry-After"]


def test_a_token_provider_login_refused_for_its_dpop_nonce_keeps_the_providers_nonce(
    provider, settings
):
    dualauth(settings, DPOP_NONCE=True)
    client = ModeClient("jwt-header")
    nonce = nonce_for(client)
    body = {"provider": PROVIDER, "id_token": provider.id_token(nonce=nonce), "nonce": nonce}
    path = mode_path("jwt-header", "login-provider")
    url = f"http://testserver{path}"
    key = DpopKey.generate()
    first = client.client.post(
        path, body, format="json", HTTP_DPOP=key.proof(method="POST", url=url)
    )
    assert (first.status_code, first.json()["code"]) == (400, "use_dpop_nonce")
    assert ProviderNonce.objects.exists()
    proof = key.proof(method="POST", url=url, nonce=first["DPoP-Nonce"])
    retry = client.client.post(path, body, format="json", HTTP_DPOP=proof)
    assert retry.status_code == 200, retry.content
    assert retry.json()["token_type"] == "DPoP"
    assert LoginFamily.objects.get().dpop_jkt == key.thumbprint


def test_a_second_factor_is_asked_for_after_a_provider_login(
    provider, mode, mode_client, user, settings
):

    from cryptography.fernet import Fernet

    dualauth(settings, MFA_ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
    family = uuid.uuid4()
    app = Authenticator(str(totp_setup_get(user_id=user.pk, family_id=family)["secret"]))
    totp_enable(user_id=user.pk, family_id=family, code=app.code(), request=site_request())
    ProviderIdentity.objects.create(
        user=user,
        provider=PROVIDER,
        issuer=provider.issuer,
        subject="alice",
        linked_at=user.date_joined,
    )
    response = provider_login(mode_client, provider, sub="alice")
    assert response.status_code == 202
    assert response.json()["code"] == "mfa_required"
    assert not response.cookies.get("sessionid")
    assert "access" not in response.json()
    # The second step adds its factor to the provider's `fed`, never a password's `pwd`.
    body = {"mfa_token": response.json()["mfa_token"], "code": app.code(1)}
    done = mode_client.request("post", shared("mfa-authenticate"), body)
    assert done.status_code == 200, done.content
    assert LoginFamily.objects.get(mode=mode).amr == "fed otp mfa"


def _access_claims(client: ModeClient) -> dict[str, Any]:
    return dict(jwt.decode(client.tokens["access"], options={"verify_signature": False}))


def test_a_provider_login_records_fed_not_pwd_in_its_tokens_and_login_state(
    provider, mode, mode_client
):
    response = provider_login(mode_client, provider, email="new@example.com", sub="new")
    assert response.status_code == 200, response.content
    assert LoginFamily.objects.get(mode=mode).amr == "fed"
    if mode == "jwt-header":
        assert _access_claims(mode_client)["amr"] == ["fed"]


def test_only_a_trusted_providers_own_methods_follow_fed(provider, settings):
    said = ["pwd", "mfa", "x-custom", "pwd", 7, {"a": 1}, ["otp"]]
    client = ModeClient("jwt-header")
    assert (
        provider_login(client, provider, sub="a", email="a@example.com", amr=said).status_code
        == 200
    )
    assert _access_claims(client)["amr"] == ["fed"]
    dualauth(settings, PROVIDER_MFA_TRUSTED=[PROVIDER])
    assert (
        provider_login(client, provider, sub="a", email="a@example.com", amr=said).status_code
        == 200
    )
    assert _access_claims(client)["amr"] == ["fed", "pwd", "mfa"]


@pytest.mark.urls("tests.common.step_up_urls")
def test_step_up_asking_for_a_password_or_a_recent_login_challenges_a_provider_login(
    provider, mode, mode_client, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    assert provider_login(mode_client, provider, sub="n", email="n@example.com").status_code == 200
    refused = mode_client.request("post", "/api/step-up/password/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "insufficient_user_authentication"
    assert "max_age" not in refused["WWW-Authenticate"]
    assert mode_client.request("post", "/api/step-up/recent/").status_code == 200
    time_machine.shift(MAX_AGE)
    stale = mode_client.request("post", "/api/step-up/recent/")
    assert stale.status_code == 401
    assert stale.json()["code"] == "insufficient_user_authentication"
    assert f"max_age={int(MAX_AGE.total_seconds())}" in stale["WWW-Authenticate"]
    # A new sign-in with the provider is a recent login again, and still no password.
    assert provider_login(mode_client, provider, sub="n", email="n@example.com").status_code == 200
    assert mode_client.request("post", "/api/step-up/recent/").status_code == 200
    assert mode_client.request("post", "/api/step-up/password/").status_code == 401


def test_linking_and_unlinking_need_a_fresh_login(provider, logged_in, settings, time_machine):
    # Shorter than the access token's life: the login stays, its freshness goes.
    dualauth(settings, REAUTH_WINDOW=timedelta(seconds=60))
    time_machine.move_to(time.time(), tick=False)
    nonce = nonce_for(logged_in)
    body = {"provider": PROVIDER, "id_token": provider.id_token(nonce=nonce), "nonce": nonce}
    time_machine.shift(dualauth_settings.REAUTH_WINDOW.total_seconds() + 1)
    response = logged_in.request("post", shared("providers-linked"), body)
    assert (response.status_code, response.json()["code"]) == (403, "reauthentication_required")
    response = logged_in.request("post", "/api/account/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 200, response.content
    nonce = nonce_for(logged_in)
    body = {"provider": PROVIDER, "id_token": provider.id_token(nonce=nonce), "nonce": nonce}
    response = logged_in.request("post", shared("providers-linked"), body)
    assert response.status_code == 201, response.content
    entry = response.json()
    assert set(entry) == {"id", "provider", "email", "linked_at", "last_used_at"}
    listed = logged_in.request("get", shared("providers-linked")).json()
    assert [item["id"] for item in listed] == [entry["id"]]
    time_machine.shift(dualauth_settings.REAUTH_WINDOW.total_seconds() + 1)
    detail = shared("provider-linked-detail", identity_id=entry["id"])
    response = logged_in.request("delete", detail)
    assert (response.status_code, response.json()["code"]) == (403, "reauthentication_required")
    logged_in.request("post", "/api/account/reauthenticate/", {"password": PASSWORD})
    assert logged_in.request("delete", detail).status_code == 204
    assert logged_in.request("delete", detail).status_code == 404


def test_linking_another_accounts_identity_is_a_409(provider, logged_in, make_user):
    bob = make_user("bob")
    ProviderIdentity.objects.create(
        user=bob,
        provider=PROVIDER,
        issuer=provider.issuer,
        subject="bobs",
        linked_at=bob.date_joined,
    )
    nonce = nonce_for(logged_in)
    body = {
        "provider": PROVIDER,
        "id_token": provider.id_token(nonce=nonce, sub="bobs"),
        "nonce": nonce,
    }
    response = logged_in.request("post", shared("providers-linked"), body)
    assert (response.status_code, response.json()["code"]) == (409, "identity_in_use")


def test_a_provider_that_is_down_is_a_503_and_password_logins_still_work(
    configure, user, mode, mode_client
):
    down = OidcProvider(port=free_port())
    configure(down)
    response = provider_login(mode_client, down)
    assert (response.status_code, response.json()["code"]) == (503, "provider_unavailable")
    assert mode_client.login(user.get_username(), PASSWORD).status_code == 200


def test_the_nonce_endpoint_is_throttled_per_address(provider, api, settings):
    dualauth(settings, ACCOUNT_REQUESTS_PER_ADDRESS=3)
    for _ in range(3):
        assert api.post(shared("provider-nonce")).status_code == 200
    response = api.post(shared("provider-nonce"))
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
