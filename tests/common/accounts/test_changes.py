"""Every change to how an account signs in is mailed at once, with what, when, device and
address, and a single-use undo key that reverses it, ends every login and asks for a reset.
"""

from collections.abc import Callable
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet

from common.accounts.models import SignInChange
from common.conf import dualauth_settings
from common.mfa.models import Passkey, RecoveryCode, TotpDevice
from common.models import LoginFamily
from common.routes import mode_path
from tests.common.accounts.conftest import (
    NEW_PASSWORD,
    account_path,
    dualauth,
    last_key,
    login,
    public_post,
)
from tests.common.mfa.conftest import Authenticator
from tests.common.mfa.webauthn.conftest import ORIGIN
from tests.conftest import PASSWORD
from tests.mail import link_of, text_of
from tests.modes import ModeClient
from tests.webauthn import SoftAuthenticator

pytestmark = pytest.mark.django_db
AGENT = "Mozilla/5.0 (X11; Linux x86_64) Attacker/1.0"
ADDRESS = "198.51.100.23"
RESET_SUBJECT = "Reset your password"
Mails = Callable[..., list[EmailMessage]]


@pytest.fixture(autouse=True)
def _encryption_key(settings: Any) -> None:
    dualauth(settings, MFA_ENCRYPTION_KEYS=[Fernet.generate_key().decode()])


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    """The attacker's authenticator, holding no passkey yet."""
    return SoftAuthenticator()


def undo_key(message: EmailMessage) -> str:
    """The undo key in the fragment of the link of a sign-in change's mail."""
    link = urlsplit(link_of(message))
    fragment = parse_qs(link.fragment)
    assert fragment["action"] == ["undo"]
    assert "key" not in parse_qs(link.query)
    [key] = fragment["key"]
    return key


def notices(mails: Mails, to: str) -> list[EmailMessage]:
    """The mails about sign-in changes sent to `to`, oldest first."""
    return [m for m in mails(to) if "#action=undo" in text_of(m)]


def undo(key: str) -> Any:
    return public_post("undo", {"key": key})


def fresh(user: Any) -> ModeClient:
    """A JWT login of `user` just now, from the attacker's device and address."""
    client = ModeClient("jwt-header")
    client.client.defaults.update(HTTP_USER_AGENT=AGENT, REMOTE_ADDR=ADDRESS)
    response = client.login(user.get_username(), PASSWORD)
    assert response.status_code == 200, response.content
    return client


def passkey_add(client: ModeClient, authenticator: SoftAuthenticator) -> Any:
    response = client.request("post", account_path("passkey-options"))
    assert response.status_code == 200, response.content
    answer = authenticator.register(response.json(), ORIGIN)
    return client.request("post", account_path("passkeys"), {"name": "Evil", "credential": answer})


def passkey_login(authenticator: SoftAuthenticator) -> Any:
    client = ModeClient("jwt-header")
    started = client.request("post", account_path("passkey-login-options")).json()
    answer = authenticator.authenticate(started["options"], ORIGIN)
    return client.request(
        "post",
        mode_path("jwt-header", "login-passkey"),
        {"challenge_token": started["challenge_token"], "credential": answer},
    )


def totp_enable(client: ModeClient) -> Authenticator:
    setup = client.request("get", account_path("totp")).json()
    app = Authenticator(setup["secret"])
    response = client.request("post", account_path("totp"), {"code": app.code()})
    assert response.status_code == 201, response.content
    return app


def email_change(client: ModeClient, mails: Mails, to: str) -> None:
    response = client.request("post", account_path("email-change"), {"email": to})
    assert response.status_code == 202, response.content
    # The change happens where its key is used: on the attacker's device again.
    key = last_key(mails, to)
    verified = public_post("email-verify", {"key": key}, HTTP_USER_AGENT=AGENT, REMOTE_ADDR=ADDRESS)
    assert verified.status_code == 200


def assert_told(message: EmailMessage, what: str) -> None:
    """`message` says what changed, when, from which device and address, and holds an undo key."""
    assert message["Subject"] == what
    body = text_of(message)
    assert what in body
    assert AGENT in body
    assert ADDRESS in body
    assert "When: " in body
    assert undo_key(message)


def test_adding_a_passkey_mails_the_owner_what_when_device_and_address(
    user, mails, clock, authenticator
):
    assert passkey_add(fresh(user), authenticator).status_code == 201
    [message] = notices(mails, user.email)
    assert_told(message, "A passkey was added to your account")
    assert "Evil" in text_of(message)
    [row] = SignInChange.objects.filter(user=user)
    assert (row.change, row.ip, row.user_agent, row.mailed_to) == (
        "passkey_added",
        ADDRESS,
        AGENT,
        user.email,
    )
    assert undo_key(message) not in row.digest


def test_enabling_an_app_and_making_recovery_codes_mail_the_owner(user, mails, clock):
    client = fresh(user)
    totp_enable(client)
    assert client.request("post", account_path("recovery-codes")).status_code == 200
    assert client.request("delete", account_path("totp")).status_code == 204
    told = notices(mails, user.email)
    assert [m["Subject"] for m in told] == [
        "An authenticator app was enabled for your account",
        "New recovery codes were made for your account",
        "The authenticator app of your account was removed",
    ]
    for message in told:
        assert_told(message, message["Subject"])
    assert "your password alone now signs you in" in text_of(told[-1])


def test_changing_or_resetting_the_password_mails_the_owner(user, mails, clock):
    client = fresh(user)
    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert client.request("post", account_path("password"), body).status_code == 204
    assert public_post("password-reset", {"email": user.email}).status_code == 202
    key = last_key(mails, user.email)
    body = {"key": key, "new_password": PASSWORD + "!"}
    response = public_post(
        "password-reset-confirm", body, HTTP_USER_AGENT=AGENT, REMOTE_ADDR=ADDRESS
    )
    assert response.status_code == 204
    told = notices(mails, user.email)
    assert [m["Subject"] for m in told] == [
        "The password of your account was changed",
        "The password of your account was reset",
    ]
    for message in told:
        assert_told(message, message["Subject"])


def test_an_email_change_mails_both_addresses_the_same_undo_key(user, mails, clock):
    old = user.email
    email_change(fresh(user), mails, "thief@example.com")
    [to_old] = notices(mails, old)
    [to_new] = notices(mails, "thief@example.com")
    assert_told(to_old, "The email address of your account was changed")
    assert "thief@example.com" in text_of(to_old)
    assert undo_key(to_old) == undo_key(to_new)
    assert SignInChange.objects.get(user=user).mailed_to == old


def test_undoing_a_passkey_removes_it_ends_every_login_and_mails_a_reset(
    user, mails, clock, authenticator
):
    owner = login("session", user.get_username())
    attacker = fresh(user)
    assert passkey_add(attacker, authenticator).status_code == 201
    [message] = notices(mails, user.email)
    response = undo(undo_key(message))
    assert response.status_code == 200, response.content
    assert response.json() == {"undone": "passkey_added"}
    assert not Passkey.objects.filter(user=user).exists()
    assert not LoginFamily.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert attacker.request("get", attacker.profile_path).status_code == 401
    assert owner.request("get", owner.profile_path).status_code == 401
    user.refresh_from_db()
    assert not user.check_password(PASSWORD)
    reset = mails(user.email)[-1]
    assert "reset-password" in link_of(reset)
    assert len(notices(mails, user.email)) == 1


def test_undoing_an_app_removes_it_and_its_recovery_codes(user, mails, clock):
    totp_enable(fresh(user))
    [message] = notices(mails, user.email)
    assert undo(undo_key(message)).json() == {"undone": "totp_enabled"}
    assert not TotpDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    response = ModeClient("jwt-header").login(user.get_username(), PASSWORD)
    assert response.status_code == 401


def test_undoing_an_email_change_restores_the_old_address_and_resets_there(user, mails, clock):
    old = user.email
    email_change(fresh(user), mails, "thief@example.com")
    [message] = notices(mails, old)
    assert undo(undo_key(message)).json() == {"undone": "email_changed"}
    user.refresh_from_db()
    assert user.email == old
    assert "reset-password" in link_of(mails(old)[-1])
    key = last_key(mails, old)
    body = {"key": key, "new_password": NEW_PASSWORD}
    assert public_post("password-reset-confirm", body).status_code == 204
    assert login("session", user.get_username(), NEW_PASSWORD)


def test_an_undo_key_works_once(user, mails, clock):
    client = fresh(user)
    totp_enable(client)
    key = undo_key(notices(mails, user.email)[0])
    assert undo(key).status_code == 200
    response = undo(key)
    assert response.status_code == 400
    assert response.json()["code"] == "key_not_valid"


@pytest.mark.parametrize("key", ["", "x" * 43, "not a key", "é" * 10])
def test_an_unknown_undo_key_is_a_400(user, key):
    response = undo(key)
    assert response.status_code == 400
    assert response.json()["code"] in ("key_not_valid", "validation_error")


def test_an_undo_key_dies_after_its_lifetime(user, mails, clock, authenticator):
    assert passkey_add(fresh(user), authenticator).status_code == 201
    key = undo_key(notices(mails, user.email)[0])
    lifetime = dualauth_settings.UNDO_LIFETIME
    clock.shift(lifetime)
    response = undo(key)
    assert response.status_code == 400
    assert response.json()["code"] == "key_not_valid"
    assert Passkey.objects.filter(user=user).exists()


def test_an_undo_key_works_until_its_lifetime_ends(user, mails, clock, authenticator):
    assert passkey_add(fresh(user), authenticator).status_code == 201
    key = undo_key(notices(mails, user.email)[0])
    clock.shift(dualauth_settings.UNDO_LIFETIME.total_seconds() - 1)
    assert undo(key).status_code == 200


def test_an_undo_key_works_after_the_address_changed(user, mails, clock, authenticator):
    old = user.email
    attacker = fresh(user)
    assert passkey_add(attacker, authenticator).status_code == 201
    email_change(attacker, mails, "thief@example.com")
    first, second = notices(mails, old)
    assert undo(undo_key(second)).json() == {"undone": "email_changed"}
    assert undo(undo_key(first)).json() == {"undone": "passkey_added"}
    user.refresh_from_db()
    assert user.email == old
    assert not Passkey.objects.filter(user=user).exists()


def test_undoing_a_change_undoes_every_later_one_and_resets_at_the_restored_address(
    user, mails, clock, authenticator
):
    old = user.email
    attacker = fresh(user)
    assert passkey_add(attacker, authenticator).status_code == 201
    email_change(attacker, mails, "thief@example.com")
    first, second = notices(mails, old)
    to_thief = len(mails("thief@example.com"))
    # The owner follows the first notice only: the address the attacker set goes too.
    assert undo(undo_key(first)).json() == {"undone": "passkey_added"}
    user.refresh_from_db()
    assert user.email == old
    assert not Passkey.objects.filter(user=user).exists()
    assert undo(undo_key(second)).status_code == 400
    # The reset goes to the owner's address, restored; nothing more to the attacker's.
    assert mails(old)[-1]["Subject"] == RESET_SUBJECT
    assert len(mails("thief@example.com")) == to_thief


def test_one_break_in_is_no_permanent_takeover(user, mails, clock, authenticator):
    # The attacker has the password for one login: a passkey of theirs, silently, they hope.
    attacker = fresh(user)
    assert passkey_add(attacker, authenticator).status_code == 201
    assert passkey_login(authenticator).status_code == 200
    # The owner follows the mail's undo link: the attacker's passkey and logins are gone.
    [message] = notices(mails, user.email)
    assert undo(undo_key(message)).status_code == 200
    assert passkey_login(authenticator).status_code == 400
    assert attacker.request("get", attacker.profile_path).status_code == 401
    # The owner resets the password by mail, and signs in with it alone: no factor of theirs.
    key = last_key(mails, user.email)
    body = {"key": key, "new_password": NEW_PASSWORD}
    assert public_post("password-reset-confirm", body).status_code == 204
    owner = ModeClient("jwt-header")
    response = owner.login(user.get_username(), NEW_PASSWORD)
    assert response.status_code == 200, response.content
    assert "access" in response.json()
