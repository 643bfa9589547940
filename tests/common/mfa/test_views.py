"""The totp/ and recovery-codes/ endpoints, re-authentication by code and the account page."""

import json
from typing import Any

import pyotp
import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model
from django.urls import resolve
from django.utils import timezone
from rest_framework.test import APIClient

from common.conf import dualauth_settings
from common.mfa.models import Passkey, RecoveryCode, TotpDevice
from common.mfa.views import PasswordLoginApi
from common.routes import MODES, mode_path
from tests.common.accounts.conftest import login, refresh
from tests.common.mfa.conftest import (
    STEP,
    Authenticator,
    account_path,
    dualauth,
    mfa_begin,
    mfa_complete,
)
from tests.conftest import PASSWORD
from tests.modes import ModeClient

pytestmark = pytest.mark.django_db
User = get_user_model()
TOTP, RECOVERY = account_path("totp"), account_path("recovery-codes")
REAUTH, ACCOUNT = account_path("reauthenticate"), account_path("account")


def _error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    assert isinstance(response.json()["detail"], str)


@pytest.fixture
def client(mode, user, clock) -> ModeClient:
    """Alice, without a second factor yet, logged in in `mode` just now."""
    return login(mode, user.get_username())


def _setup(client: ModeClient) -> Authenticator:
    response = client.request("get", TOTP)
    assert response.status_code == 200, response.content
    return Authenticator(response.json()["secret"])


def _enable(client: ModeClient, clock: Any) -> tuple[Authenticator, list[str]]:
    """Enable an app through the endpoints; the clock moves on a step, past the code used."""
    app = _setup(client)
    response = client.request("post", TOTP, {"code": app.code()})
    assert response.status_code == 201, response.content
    clock.shift(STEP)
    return app, response.json()["recovery_codes"]


def _age(client: ModeClient, clock: Any) -> None:
    """Let the login's freshness run out; the client keeps a live credential."""
    clock.shift(dualauth_settings.REAUTH_WINDOW)
    refresh(client)


def _not_fresh(response: Any) -> None:
    _error(response, 403, "reauthentication_required")


def _table(model: type[Model]) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {model._meta.db_table}")
        return repr(cursor.fetchall())


def _password_login(mode: str, username: str) -> Any:
    return ModeClient(mode).login(username, PASSWORD)


# GET totp/.


def test_setting_up_shows_the_secret_its_url_and_qr_code(client, user, settings):
    dualauth(settings, TOTP_ISSUER="Example Corp")
    response = client.request("get", TOTP)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"enabled", "secret", "otpauth_url", "qr_svg"}
    assert body["enabled"] is False
    parsed = pyotp.parse_uri(body["otpauth_url"])
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == body["secret"]
    assert parsed.issuer == "Example Corp"
    assert parsed.name == user.get_username()
    assert (parsed.digits, parsed.interval, parsed.digest().name) == (6, 30, "sha1")
    assert body["qr_svg"].startswith("<svg")
    assert client.request("get", TOTP).json() == body


def test_the_secret_is_encrypted_at_rest_with_the_mfa_key_only(client, user, settings):
    secret = client.request("get", TOTP).json()["secret"]
    device = TotpDevice.objects.get(user=user)
    assert secret not in device.encrypted_secret
    assert secret not in _table(TotpDevice)
    [key] = dualauth_settings.MFA_ENCRYPTION_KEYS
    assert Fernet(key).decrypt(device.encrypted_secret.encode()).decode() == secret
    with pytest.raises(Exception):  # noqa: B017, PT011 (any failure: SECRET_KEY is no key here)
        Fernet(Fernet.generate_key()).decrypt(device.encrypted_secret.encode())
    dualauth(settings, MFA_ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
    _error(client.request("get", TOTP), 503, "mfa_not_configured")


def test_without_an_encryption_key_no_app_can_be_enabled(client, user, settings, clock):
    app = _setup(client)
    dualauth(settings, MFA_ENCRYPTION_KEYS=[])
    _error(client.request("post", TOTP, {"code": app.code()}), 503, "mfa_not_configured")
    TotpDevice.objects.filter(user=user).delete()
    _error(client.request("get", TOTP), 503, "mfa_not_configured")
    assert not TotpDevice.objects.filter(user=user).exists()


def test_a_secret_shown_to_one_login_is_not_enabled_by_another(client, user, clock):
    first = _setup(client)
    other = login(client.mode, user.get_username())
    second = _setup(other)
    assert second.secret != first.secret
    response = client.request("post", TOTP, {"code": first.code()})
    assert response.status_code == 400, response.content
    response = client.request("post", TOTP, {"code": second.code()})
    assert response.status_code == 400, response.content
    assert other.request("post", TOTP, {"code": second.code()}).status_code == 201


def test_the_totp_endpoints_need_a_login(db):
    anonymous = APIClient()
    for method in ("get", "post", "delete"):
        response = getattr(anonymous, method)(TOTP, {"code": "123456"}, format="json")
        _error(response, 401, "not_authenticated")
    for method in ("get", "post"):
        _error(getattr(anonymous, method)(RECOVERY), 401, "not_authenticated")


# POST totp/.


def test_enabling_answers_the_recovery_codes_once(client, user, clock, audit_events):
    app = _setup(client)
    response = client.request("post", TOTP, {"code": app.code()})
    assert response.status_code == 201, response.content
    codes = response.json()["recovery_codes"]
    assert set(response.json()) == {"recovery_codes"}
    assert len(codes) == len(set(codes)) == dualauth_settings.RECOVERY_CODE_COUNT
    assert client.request("get", TOTP).json() == {"enabled": True}
    assert client.request("get", RECOVERY).json() == {"remaining": len(codes)}
    dump = _table(RecoveryCode)
    for code in codes:
        assert code not in dump
        assert code.replace("-", "") not in dump
    assert "totp_enabled" in [e["event"] for e in audit_events()]
    assert _password_login(client.mode, user.get_username()).status_code == 202


def test_a_wrong_first_code_is_a_400_and_enables_nothing(client, user, clock):
    app = _setup(client)
    _error(client.request("post", TOTP, {"code": app.code(3)}), 400, "mfa_code_not_valid")
    assert client.request("get", TOTP).json()["enabled"] is False
    assert not RecoveryCode.objects.exists()
    assert _password_login(client.mode, user.get_username()).status_code == 200


def test_enabling_needs_a_secret_shown_first(client, user):
    response = client.request("post", TOTP, {"code": "123456"})
    _error(response, 400, "validation_error")
    assert not TotpDevice.objects.exists()


def test_enabling_an_enabled_app_again_is_a_400(client, clock):
    app, codes = _enable(client, clock)
    response = client.request("post", TOTP, {"code": app.code()})
    _error(response, 400, "validation_error")
    assert client.request("get", RECOVERY).json() == {"remaining": len(codes)}


def test_enabling_needs_a_fresh_login(client, user, clock):
    app = _setup(client)
    _age(client, clock)
    _not_fresh(client.request("post", TOTP, {"code": app.code()}))
    assert TotpDevice.objects.get(user=user).confirmed_at is None
    response = client.request("post", REAUTH, {"password": PASSWORD})
    assert response.status_code == 200
    assert client.request("post", TOTP, {"code": app.code()}).status_code == 201


@pytest.mark.parametrize("mode", ["session", "jwt-cookie"])
def test_enabling_from_a_cookie_login_needs_csrf(client, user, clock):
    app = _setup(client)
    response = client.request("post", TOTP, {"code": app.code()}, csrf=False)
    _error(response, 403, "csrf_failed")
    assert TotpDevice.objects.get(user=user).confirmed_at is None
    assert client.request("post", TOTP, {"code": app.code()}).status_code == 201


# DELETE totp/.


def test_disabling_needs_a_fresh_login(client, user, clock, mails):
    _enable(client, clock)
    _age(client, clock)
    _not_fresh(client.request("delete", TOTP))
    assert client.request("get", TOTP).json() == {"enabled": True}
    assert [m["Subject"] for m in mails()] == ["An authenticator app was enabled for your account"]


def test_disabling_the_last_factor_removes_it_and_its_codes_and_tells_the_user(
    client, user, clock, mails, audit_events
):
    _enable(client, clock)
    response = client.request("delete", TOTP)
    assert response.status_code == 204
    assert response.content == b""
    assert not TotpDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    events = [e["event"] for e in audit_events()]
    assert "totp_disabled" in events
    _, message = mails(user.email)
    assert message["Subject"] == "The authenticator app of your account was removed"
    assert "your password alone now signs you in" in message.get_body(("plain",)).get_content()
    assert client.request("get", ACCOUNT).json()["mfa"] == {
        "totp": False,
        "passkeys": 0,
        "recovery_codes_left": 0,
    }
    assert _password_login(client.mode, user.get_username()).status_code == 200


def test_disabling_an_app_while_a_passkey_remains_keeps_the_codes(client, user, clock, mails):
    _, codes = _enable(client, clock)
    Passkey.objects.create(
        user=user,
        name="Laptop",
        credential_id=b"credential",
        public_key=b"key",
        user_handle=b"h" * 32,
        created_at=timezone.now(),
    )
    assert client.request("delete", TOTP).status_code == 204
    assert client.request("get", RECOVERY).json() == {"remaining": len(codes)}
    _, message = mails(user.email)
    assert "password alone" not in message.get_body(("plain",)).get_content()


# recovery-codes/.


def test_the_remaining_count_is_all_that_is_shown_again(client, user, clock):
    _, codes = _enable(client, clock)
    response = client.request("get", RECOVERY)
    assert response.status_code == 200
    assert response.json() == {"remaining": dualauth_settings.RECOVERY_CODE_COUNT}
    for code in codes:
        assert code not in response.content.decode()
    for path in (TOTP, ACCOUNT):
        assert not set(codes) & set(json.dumps(client.request("get", path).json()).split('"'))


def test_regenerating_gives_a_new_set_and_kills_the_old(client, user, clock, audit_events):
    _, old = _enable(client, clock)
    response = client.request("post", RECOVERY)
    assert response.status_code == 200, response.content
    new = response.json()["recovery_codes"]
    assert set(response.json()) == {"recovery_codes"}
    assert len(new) == dualauth_settings.RECOVERY_CODE_COUNT
    assert not set(new) & set(old)
    assert "recovery_codes_generated" in [e["event"] for e in audit_events()]
    jwt = ModeClient("jwt-header")
    token = mfa_begin(jwt, user.get_username())
    _error(mfa_complete(jwt, token, old[0]), 400, "mfa_code_not_valid")
    assert mfa_complete(jwt, token, new[0]).status_code == 200


def test_regenerating_needs_a_fresh_login(client, user, clock):
    _, old = _enable(client, clock)
    _age(client, clock)
    _not_fresh(client.request("post", RECOVERY))
    jwt = ModeClient("jwt-header")
    assert mfa_complete(jwt, mfa_begin(jwt, user.get_username()), old[0]).status_code == 200


def test_regenerating_needs_a_factor(client, user):
    response = client.request("post", RECOVERY)
    _error(response, 400, "validation_error")
    assert not RecoveryCode.objects.exists()
    assert client.request("get", RECOVERY).json() == {"remaining": 0}


# Re-authentication with a code.


def test_a_totp_code_freshens_the_login(client, user, clock):
    app, _ = _enable(client, clock)
    _age(client, clock)
    _not_fresh(client.request("post", RECOVERY))
    response = client.request("post", REAUTH, {"code": app.code()})
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"reauthenticated_until"}
    assert client.request("post", RECOVERY).status_code == 200


def test_a_code_freshens_the_login_once(client, user, clock):
    app, _ = _enable(client, clock)
    code = app.code()
    assert client.request("post", REAUTH, {"code": code}).status_code == 200
    _error(client.request("post", REAUTH, {"code": code}), 400, "mfa_code_not_valid")


def test_a_recovery_code_freshens_the_login_once(client, user, clock):
    _, codes = _enable(client, clock)
    _age(client, clock)
    assert client.request("post", REAUTH, {"code": codes[0]}).status_code == 200
    _error(client.request("post", REAUTH, {"code": codes[0]}), 400, "mfa_code_not_valid")


def test_a_wrong_code_does_not_freshen_the_login(client, user, clock):
    _enable(client, clock)
    _age(client, clock)
    _error(client.request("post", REAUTH, {"code": "000000"}), 400, "mfa_code_not_valid")
    _not_fresh(client.request("post", RECOVERY))


def test_wrong_reauthentication_codes_count_like_wrong_passwords(client, user, clock):
    _enable(client, clock)
    # Without its device cookie: a known device's failures count against its own limit.
    client.client.cookies.pop(dualauth_settings.DEVICE_COOKIE_NAME, None)
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        _error(client.request("post", REAUTH, {"code": "000000"}), 400, "mfa_code_not_valid")
    response = _password_login(client.mode, user.get_username())
    _error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_reauthenticating_with_a_code_needs_an_app(client, user):
    _error(client.request("post", REAUTH, {"code": "123456"}), 400, "mfa_code_not_valid")


# The account page.


def test_the_account_page_shows_the_factors(client, user, clock, mails):
    mfa = lambda: client.request("get", ACCOUNT).json()["mfa"]  # noqa: E731
    assert mfa() == {"totp": False, "passkeys": 0, "recovery_codes_left": 0}
    _setup(client)
    assert mfa() == {"totp": False, "passkeys": 0, "recovery_codes_left": 0}
    _, codes = _enable(client, clock)
    assert mfa() == {"totp": True, "passkeys": 0, "recovery_codes_left": len(codes)}
    jwt = ModeClient("jwt-header")
    assert mfa_complete(jwt, mfa_begin(jwt, user.get_username()), codes[0]).status_code == 200
    assert mfa() == {"totp": True, "passkeys": 0, "recovery_codes_left": len(codes) - 1}


# Bad input.


BAD_CODES: list[Any] = [None, True, 12.5, {}, [], ["123456"], {"a": "b"}, "", "9" * 5000]
BAD_BODIES: list[Any] = [[], ["a"], "a string", 42, None, True, {}]


@pytest.mark.parametrize("mode", ["jwt-header"])
def test_garbage_is_a_400_never_a_500(client, user, clock, settings):
    dualauth(settings, LOGIN_FAILURES_PER_USERNAME=1000)
    _setup(client)
    bodies = [*BAD_BODIES, *({"code": code} for code in BAD_CODES)]
    bodies += [{"code": "123456", "password": PASSWORD}, {"password": None}]
    for path in (TOTP, REAUTH):
        for body in bodies:
            response = client.request("post", path, body)
            assert response.status_code == 400, (path, body, response.content)
            assert response["Content-Type"] == "application/json"
            assert response.json()["code"] in ("validation_error", "mfa_code_not_valid")
        for content in [b"{", b'{"code": }', b"\xff\xfe{}"]:
            response = client.client.post(path, content, content_type="application/json")
            _error(response, 400, "validation_error")
    for body in [*BAD_BODIES, {"recovery_codes": ["x"]}]:
        for method, path in [("post", RECOVERY), ("delete", TOTP)]:
            response = client.request(method, path, body)
            assert response.status_code < 500, (method, path, body)
            if response.content:
                assert response["Content-Type"] == "application/json"
    assert client.request("get", ACCOUNT).json()["mfa"]["totp"] is False


def test_a_code_longer_than_any_is_a_400_that_counts_nothing(client, user, clock):
    _enable(client, clock)
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME + 1):
        response = client.request("post", REAUTH, {"code": "1" * 100_000})
        _error(response, 400, "validation_error")
    assert _password_login(client.mode, user.get_username()).status_code == 202


@pytest.mark.parametrize("mode", MODES)
def test_every_modes_password_login_is_the_one_login_view_built_with_its_modes_kind(mode):
    view = resolve(mode_path(mode, "login")).func
    assert view.view_class is PasswordLoginApi
    assert view.view_initkwargs["kind"].mode == mode
