"""The passkey endpoints answer as the contract says in every mode: adding one needs a fresh
login and answers only that login's options, removing one needs a fresh login, another
user's passkey is not found, and no input is a 500.
"""

from typing import Any

import pytest
from django.urls import resolve
from django.utils import timezone
from rest_framework.test import APIClient

from clients.mobile.dpop import DpopKey
from common.conf import dualauth_settings
from common.mfa.models import MfaChallenge, Passkey
from common.mfa.webauthn.views import PasskeyLoginApi
from common.models import LoginFamily
from common.routes import MODES, mode_path
from tests.common.accounts.conftest import account_path, dualauth, login, refresh
from tests.common.mfa.webauthn.conftest import (
    LOGIN_EDITS,
    ORIGIN,
    REGISTRATION_SAMPLE,
    RP_ID,
    SAFETYNET_REPRODUCERS,
    STILL_VALID,
    login_edit,
    passkey_add,
)
from tests.conftest import PASSWORD
from tests.modes import ModeClient
from tests.webauthn import SoftAuthenticator, attestation_edit

pytestmark = pytest.mark.django_db
PASSKEY_FIELDS = {"id", "name", "created_at", "last_used_at"}


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    """Assert an error answer in the contract's shape; its body."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str)
    return dict(body)


def _detail_path(passkey_id: int) -> str:
    return account_path("passkey-detail").replace("<int:passkey_id>", str(passkey_id))


def _begin(client: ModeClient) -> Any:
    return client.request("post", account_path("passkey-options"))


def _add(
    client: ModeClient, authenticator: SoftAuthenticator, name: Any = "Laptop", **knobs: Any
) -> Any:
    """Add a passkey as the SPA does: options, the authenticator's answer, the answer posted."""
    response = _begin(client)
    assert response.status_code == 200, response.content
    answer = authenticator.register(response.json(), knobs.pop("origin", ORIGIN), **knobs)
    return client.request("post", account_path("passkeys"), {"name": name, "credential": answer})


def _passkey_login(mode: str, authenticator: SoftAuthenticator, **knobs: Any) -> Any:
    """A passwordless login in `mode`, from a browser (or app) with no credential yet."""
    client = ModeClient(mode)
    started = client.request("post", account_path("passkey-login-options"))
    assert started.status_code == 200, started.content
    body = started.json()
    answer = authenticator.authenticate(body["options"], knobs.pop("origin", ORIGIN), **knobs)
    return client.request(
        "post",
        mode_path(mode, "login-passkey"),
        {"challenge_token": body["challenge_token"], "credential": answer},
    )


@pytest.fixture
def alice(user, clock, mode) -> ModeClient:
    """Alice logged in in `mode` just now (by password: no factor yet), on a still clock."""
    return login(mode, user.get_username())


def test_a_passkey_without_a_name_is_named_passkey(alice, authenticator):
    answer = authenticator.register(_begin(alice).json(), ORIGIN)
    response = alice.request("post", account_path("passkeys"), {"credential": answer})
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "Passkey"


def test_adding_a_passkey_answers_it_and_lists_it(alice, authenticator):
    response = _add(alice, authenticator, name="  My laptop  ")
    assert response.status_code == 201, response.content
    assert response["Auth-Mode"] == alice.mode
    body = response.json()
    assert set(body) == PASSKEY_FIELDS
    assert body["name"] == "My laptop"
    assert body["last_used_at"] is None
    listed = alice.request("get", account_path("passkeys"))
    assert listed.status_code == 200
    assert listed.json() == [body]
    account = alice.request("get", account_path("account")).json()
    assert account["mfa"]["passkeys"] == 1


def test_the_creation_options_are_for_this_site_and_a_user_verifying_discoverable_passkey(
    alice, user
):
    options = _begin(alice).json()
    assert options["rp"]["id"] == RP_ID
    assert options["user"]["name"] == user.get_username()
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"


@pytest.mark.parametrize(("name", "saved"), [("", "Passkey"), ("   ", "Passkey"), ("é" * 64, None)])
def test_a_blank_name_gets_the_default_and_64_characters_are_kept(
    alice, authenticator, name, saved
):
    response = _add(alice, authenticator, name=name)
    assert response.status_code == 201, response.content
    assert response.json()["name"] == (saved or name)


@pytest.mark.parametrize("name", ["x" * 65, None, ["a"], {"a": 1}])
def test_a_name_too_long_or_not_a_string_is_a_400(alice, authenticator, name):
    _error(_add(alice, authenticator, name=name), 400, "validation_error")
    assert Passkey.objects.count() == 0


def test_a_stale_login_gets_no_creation_options_until_it_reauthenticates(alice, clock):
    clock.shift(dualauth_settings.REAUTH_WINDOW)
    refresh(alice)
    _error(_begin(alice), 403, "reauthentication_required")
    assert MfaChallenge.objects.count() == 0
    response = alice.request("post", account_path("reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 200, response.content
    assert _begin(alice).status_code == 200


def test_an_answer_to_the_options_of_another_login_is_refused(alice, user, authenticator):
    other = login(alice.mode, user.get_username())
    answer = authenticator.register(_begin(other).json(), ORIGIN)
    response = alice.request(
        "post", account_path("passkeys"), {"name": "Laptop", "credential": answer}
    )
    _error(response, 400, "passkey_not_valid")
    assert Passkey.objects.count() == 0


@pytest.mark.parametrize(
    "knobs",
    [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}, {"user_verified": False}],
)
def test_an_answer_not_for_this_site_or_without_user_verification_is_refused(
    alice, authenticator, knobs
):
    _error(_add(alice, authenticator, **knobs), 400, "passkey_not_valid")
    assert Passkey.objects.count() == 0


def test_the_same_answer_twice_adds_one_passkey(alice, authenticator):
    options = _begin(alice).json()
    answer = authenticator.register(options, ORIGIN)
    body = {"name": "Laptop", "credential": answer}
    assert alice.request("post", account_path("passkeys"), body).status_code == 201
    _error(alice.request("post", account_path("passkeys"), body), 400, "passkey_not_valid")
    assert Passkey.objects.count() == 1


def test_an_answer_after_the_challenge_expired_is_refused(alice, authenticator, clock):
    options = _begin(alice).json()
    answer = authenticator.register(options, ORIGIN)
    clock.shift(dualauth_settings.WEBAUTHN_CHALLENGE_LIFETIME)
    refresh(alice)
    response = alice.request(
        "post", account_path("passkeys"), {"name": "Laptop", "credential": answer}
    )
    _error(response, 400, "passkey_not_valid")


BAD_CREDENTIALS: list[Any] = [
    None,
    "text",
    42,
    [],
    {},
    {"id": "a", "rawId": "a", "type": "public-key", "response": {}},
    {"id": "a", "rawId": "a", "type": "public-key", "response": {"clientDataJSON": "é"}},
    {"rawId": "%%", "response": {"clientDataJSON": "a", "attestationObject": "a"}},
]


@pytest.mark.parametrize("credential", BAD_CREDENTIALS)
def test_a_malformed_credential_is_a_400_never_a_500(alice, credential):
    assert _begin(alice).status_code == 200
    response = alice.request(
        "post", account_path("passkeys"), {"name": "Laptop", "credential": credential}
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("validation_error", "passkey_not_valid")


@pytest.mark.parametrize("edit", SAFETYNET_REPRODUCERS.values(), ids=SAFETYNET_REPRODUCERS)
def test_a_safetynet_answer_with_a_text_response_or_a_list_for_header_is_a_400_not_a_500(
    alice, authenticator, edit
):
    answer = authenticator.register(_begin(alice).json(), ORIGIN, fmt="android-safetynet")
    body = {"name": "Laptop", "credential": attestation_edit(answer, edit)}
    _error(alice.request("post", account_path("passkeys"), body), 400, "passkey_not_valid")
    assert Passkey.objects.count() == 0


def test_no_spoilt_statement_of_any_format_is_more_than_a_400(user, clock):
    # One mode, a sample: the modes share the service, whose boundary has the whole table.
    client = login("session", user.get_username())
    for fmt, name, edit in REGISTRATION_SAMPLE:
        answer = SoftAuthenticator().register(_begin(client).json(), ORIGIN, fmt=fmt)
        body = {"name": name, "credential": attestation_edit(answer, edit)}
        response = client.request("post", account_path("passkeys"), body)
        if (fmt, name) in STILL_VALID and response.status_code == 201:
            continue
        _error(response, 400, "passkey_not_valid")
    assert set(Passkey.objects.values_list("name", flat=True)) <= {n for _, n in STILL_VALID}


@pytest.mark.parametrize(
    "content", [b"[]", b'"text"', b"{", b"\xff", b'{"name": "Laptop"}', b'{"credential": []}']
)
def test_a_malformed_body_is_a_400(alice, content):
    assert _begin(alice).status_code == 200
    extra = {} if alice.mode == "jwt-header" else {"HTTP_X_CSRFTOKEN": alice.csrf_token()}
    response = alice.client.post(
        account_path("passkeys"), content, content_type="application/json", **extra
    )
    _error(response, 400, "validation_error")


def test_a_cookie_login_needs_csrf_to_add_a_passkey(alice, authenticator):
    options = _begin(alice).json()
    answer = authenticator.register(options, ORIGIN)
    response = alice.request(
        "post", account_path("passkeys"), {"name": "Laptop", "credential": answer}, csrf=False
    )
    if alice.mode == "jwt-header":
        assert response.status_code == 201
        return
    _error(response, 403, "csrf_failed")
    assert Passkey.objects.count() == 0


@pytest.mark.parametrize(
    ("method", "endpoint"),
    [
        ("post", "passkey-options"),
        ("get", "passkeys"),
        ("post", "passkeys"),
        ("patch", "passkey-detail"),
        ("delete", "passkey-detail"),
    ],
)
def test_the_passkey_endpoints_need_a_login(db, method, endpoint):
    path = account_path(endpoint).replace("<int:passkey_id>", "1")
    response = getattr(APIClient(), method)(path, {"name": "x"}, format="json")
    _error(response, 401, "not_authenticated")


# One passkey: rename, remove.


def test_a_passkey_is_renamed_by_any_login(alice, user, clock):
    passkey = passkey_add(SoftAuthenticator(), user)
    clock.shift(dualauth_settings.REAUTH_WINDOW)
    refresh(alice)
    response = alice.request("patch", _detail_path(passkey.pk), {"name": " Work "})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Work"
    assert Passkey.objects.get().name == "Work"


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, None])
def test_a_rename_to_a_blank_or_long_name_is_a_400(alice, user, name):
    passkey = passkey_add(SoftAuthenticator(), user)
    _error(
        alice.request("patch", _detail_path(passkey.pk), {"name": name}), 400, "validation_error"
    )
    assert Passkey.objects.get().name == passkey.name


def test_a_passkey_is_removed_by_a_fresh_login(alice, user):
    passkey = passkey_add(SoftAuthenticator(), user)
    response = alice.request("delete", _detail_path(passkey.pk))
    assert response.status_code == 204, response.content
    assert alice.request("get", account_path("passkeys")).json() == []


def test_a_stale_login_cannot_remove_a_passkey(alice, user, clock):
    passkey = passkey_add(SoftAuthenticator(), user)
    clock.shift(dualauth_settings.REAUTH_WINDOW)
    refresh(alice)
    _error(alice.request("delete", _detail_path(passkey.pk)), 403, "reauthentication_required")
    assert Passkey.objects.filter(pk=passkey.pk).exists()


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_another_users_passkey_is_not_found(alice, make_user, method):
    bobs = passkey_add(SoftAuthenticator(), make_user("bob"), name="Bob's")
    response = alice.request(method, _detail_path(bobs.pk), {"name": "Mine"})
    _error(response, 404, "not_found")
    assert Passkey.objects.get().name == "Bob's"


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_an_unknown_passkey_id_is_not_found(alice, method):
    _error(alice.request(method, _detail_path(2**62), {"name": "x"}), 404, "not_found")


# Passwordless login.


def test_login_options_are_public_and_name_no_passkey(db):
    response = APIClient(enforce_csrf_checks=True).post(account_path("passkey-login-options"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"challenge_token", "options"}
    assert body["options"]["userVerification"] == "required"
    assert body["options"]["rpId"] == RP_ID
    assert body["options"].get("allowCredentials", []) == []


def test_login_options_are_throttled_per_address(db, settings):
    dualauth(settings, ACCOUNT_REQUESTS_PER_ADDRESS=2)
    client = APIClient()
    for _ in range(2):
        assert client.post(account_path("passkey-login-options")).status_code == 200
    _error(client.post(account_path("passkey-login-options")), 429, "throttled")


def test_a_passkey_added_in_one_mode_logs_in_in_each_and_the_list_shows_its_last_use(
    alice, authenticator, clock
):
    assert _add(alice, authenticator).status_code == 201
    for mode in ("session", "jwt-header", "jwt-cookie"):
        clock.shift(60)
        response = _passkey_login(mode, authenticator)
        assert response.status_code == 200, response.content
    [listed] = alice.request("get", account_path("passkeys")).json()
    assert listed["last_used_at"] == timezone.now().isoformat().replace("+00:00", "Z")
    assert Passkey.objects.get().sign_count == 3


@pytest.mark.parametrize(
    "knobs",
    [
        {"origin": "https://evil.example"},
        {"rp_id": "evil.example"},
        {"user_verified": False},
        {"sign_count": 0},
        {"user_handle": None},
    ],
)
def test_a_passkey_login_that_does_not_verify_is_a_400(mode, user, authenticator, knobs):
    passkey_add(authenticator, user)
    _passkey_login(mode, authenticator, sign_count=5)
    response = _passkey_login(mode, authenticator, **knobs)
    _error(response, 400, "passkey_not_valid")
    assert Passkey.objects.get().sign_count == 5


def test_a_passkey_login_answer_is_accepted_once(mode, user, authenticator):
    passkey_add(authenticator, user)
    client = ModeClient(mode)
    body = client.request("post", account_path("passkey-login-options")).json()
    answer = authenticator.authenticate(body["options"], ORIGIN)
    login_body = {"challenge_token": body["challenge_token"], "credential": answer}
    assert client.request("post", mode_path(mode, "login-passkey"), login_body).status_code == 200
    again = ModeClient(mode).request("post", mode_path(mode, "login-passkey"), login_body)
    _error(again, 400, "passkey_not_valid")


def test_a_passkey_login_with_a_malformed_credential_is_a_400(mode, user):
    client = ModeClient(mode)
    body = client.request("post", account_path("passkey-login-options")).json()
    for credential in BAD_CREDENTIALS:
        response = client.request(
            "post",
            mode_path(mode, "login-passkey"),
            {"challenge_token": body["challenge_token"], "credential": credential},
        )
        assert response.status_code == 400, (credential, response.content)


def test_no_spoilt_login_answer_is_more_than_a_400(user, authenticator):
    passkey_add(authenticator, user)
    for name, edit in LOGIN_EDITS.items():
        client = ModeClient("session")
        body = client.request("post", account_path("passkey-login-options")).json()
        answer = login_edit(authenticator.authenticate(body["options"], ORIGIN), edit)
        response = client.request(
            "post",
            mode_path("session", "login-passkey"),
            {"challenge_token": body["challenge_token"], "credential": answer},
        )
        assert response.status_code == 400, (name, response.content)
        assert response.json()["code"] == "passkey_not_valid", name


@pytest.mark.parametrize("mode", MODES)
def test_every_modes_passkey_login_is_the_one_passkey_login_view_built_with_its_modes_kind(mode):
    view = resolve(mode_path(mode, "login-passkey")).func
    assert view.view_class is PasskeyLoginApi
    assert view.view_initkwargs["kind"].mode == mode


def test_a_passkey_login_records_its_method_and_binds_a_token_login_to_the_proofs_key(
    alice, authenticator, clock
):
    assert _add(alice, authenticator).status_code == 201
    clock.shift(60)
    assert _passkey_login("session", authenticator).status_code == 200
    client = APIClient()
    started = client.post(account_path("passkey-login-options")).json()
    answer = authenticator.authenticate(started["options"], ORIGIN)
    path = mode_path("jwt-header", "login-passkey")
    key = DpopKey.generate()
    response = client.post(
        path,
        {"challenge_token": started["challenge_token"], "credential": answer},
        format="json",
        HTTP_DPOP=key.proof(method="POST", url=f"http://testserver{path}"),
    )
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"
    token = LoginFamily.objects.get(mode="jwt-header", amr="hwk mfa")
    assert token.dpop_jkt == key.thumbprint
    assert LoginFamily.objects.filter(mode="session", amr="hwk mfa").exists()


@pytest.mark.parametrize("mode", ["jwt-header"])
def test_a_token_passkey_login_refused_for_its_dpop_nonce_keeps_its_challenge(
    alice, authenticator, settings
):
    assert _add(alice, authenticator).status_code == 201
    dualauth(settings, DPOP_NONCE=True)
    client = APIClient()
    started = client.post(account_path("passkey-login-options")).json()
    answer = authenticator.authenticate(started["options"], ORIGIN)
    path = mode_path("jwt-header", "login-passkey")
    url = f"http://testserver{path}"
    body = {"challenge_token": started["challenge_token"], "credential": answer}
    key = DpopKey.generate()
    first = client.post(path, body, format="json", HTTP_DPOP=key.proof(method="POST", url=url))
    _error(first, 400, "use_dpop_nonce")
    assert MfaChallenge.objects.filter(purpose=MfaChallenge.Purpose.PASSKEY_LOGIN).exists()
    proof = key.proof(method="POST", url=url, nonce=first["DPoP-Nonce"])
    retry = client.post(path, body, format="json", HTTP_DPOP=proof)
    assert retry.status_code == 200, retry.content
    assert retry.json()["token_type"] == "DPoP"
    assert LoginFamily.objects.filter(dpop_jkt=key.thumbprint).count() == 1
