"""Account flows end to end (real SMTP), verification at login, no enumeration, throttles, audit."""

import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction

from common.accounts.models import Account
from common.conf import dualauth_settings
from common.models import LoginFamily
from tests.common.accounts.conftest import (
    DEAD_CREDENTIAL_CODE,
    MAIL_SENT,
    NEW_PASSWORD,
    PUBLIC,
    account_path,
    dualauth,
    last_key,
    login,
    public_post,
    signup,
)
from tests.conftest import (
    PASSWORD,
    cache_clear,
    require_service,
    require_shared_cache,
    uses_postgres,
)
from tests.mail import key_of, link_of, text_of
from tests.modes import MODES, ModeClient

pytestmark = pytest.mark.django_db
User = get_user_model()
SECOND = timedelta(seconds=1)


def _dead(client: ModeClient) -> None:
    """Assert that the client's login is over: no read, and no new access token either."""
    response = client.request("get", client.profile_path)
    assert response.status_code == 401, (client.mode, response.content)
    assert response.json()["code"] == DEAD_CREDENTIAL_CODE[client.mode]
    if client.mode == "jwt-header":
        refreshed = client.request(
            "post", "/api/jwt/token/refresh/", {"refresh": client.tokens["refresh"]}
        )
        assert refreshed.status_code == 401
    elif client.mode == "jwt-cookie":
        assert client.request("post", "/api/jwt/cookie/refresh/").status_code == 401


# End to end, with real mail through a real SMTP server.


def test_a_new_account_verified_from_its_mail_logs_in_in_every_mode(smtp):
    assert signup("newbie").status_code == 202
    [message] = smtp.wait("newbie@example.com")
    for mode in MODES:
        refused = ModeClient(mode).login("newbie", PASSWORD)
        assert refused.status_code == 403
        assert refused.json()["code"] == "email_not_verified"
    response = public_post("email-verify", {"key": key_of(message), "password": PASSWORD})
    assert response.json() == {"email": "newbie@example.com", "verified": True}
    for mode in MODES:
        client = login(mode, "newbie")
        assert client.request("get", client.profile_path).json()["username"] == "newbie"


def test_a_reset_by_mail_ends_every_earlier_login_and_the_new_password_works(user, smtp):
    earlier = [login(mode, user.get_username()) for mode in MODES for _ in range(2)]
    assert public_post("password-reset", {"email": user.email}).status_code == 202
    [message] = smtp.wait(user.email)
    assert "action=reset-password" in link_of(message)
    body = {"key": key_of(message), "new_password": NEW_PASSWORD}
    assert public_post("password-reset-confirm", body).status_code == 204
    for client in earlier:
        _dead(client)
    for mode in MODES:
        old = ModeClient(mode).login(user.get_username(), PASSWORD)
        assert old.status_code == 401
        assert old.json()["code"] == "invalid_credentials"
        client = login(mode, user.get_username(), NEW_PASSWORD)
        assert client.request("get", client.profile_path).status_code == 200


@pytest.mark.parametrize("mode", MODES)
def test_an_email_change_by_mail_moves_the_account_and_tells_the_old_address(user, smtp, mode):
    client = login(mode, user.get_username())
    response = client.request("post", account_path("email-change"), {"email": "moved@example.com"})
    assert response.status_code == 202
    [message] = smtp.wait("moved@example.com")
    assert client.request("get", account_path("account")).json()["email"] == user.email
    assert smtp.messages(user.email) == []
    response = public_post("email-verify", {"key": key_of(message)})
    assert response.json() == {"email": "moved@example.com", "verified": True}
    account = client.request("get", account_path("account")).json()
    assert (account["email"], account["email_verified"]) == ("moved@example.com", True)
    assert client.request("get", client.profile_path).json()["email"] == "moved@example.com"
    [told] = smtp.wait(user.email)
    assert "moved@example.com" in text_of(told)
    # Its only key is the undo key of the change, in the fragment.
    assert "?" not in link_of(told)
    assert "#action=undo&key=" in link_of(told)
    assert Account.objects.get(user=user).email_key == "moved@example.com"


# Logins of accounts whose address awaits verification.


def test_the_right_password_of_an_unverified_account_is_a_403_in_every_mode(db, mode, mails):
    assert signup("newbie").status_code == 202
    response = ModeClient(mode).login("newbie", PASSWORD)
    assert response.status_code == 403
    assert response.json()["code"] == "email_not_verified"
    credentials = {"sessionid", "access_token", "refresh_token"}
    assert not {*credentials, dualauth_settings.DEVICE_COOKIE_NAME} & set(response.cookies)
    assert "access" not in response.json()
    assert not LoginFamily.objects.exists()


def test_a_wrong_password_of_an_unverified_account_is_the_usual_401(db, mode, mails):
    assert signup("newbie").status_code == 202
    response = ModeClient(mode).login("newbie", "not the password")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Invalid username or password.",
        "code": "invalid_credentials",
    }


@pytest.mark.parametrize("verification", ["optional", "none"])
def test_without_mandatory_verification_an_unverified_account_logs_in(
    db, settings, mode, mails, verification
):
    dualauth(settings, EMAIL_VERIFICATION=verification)
    response = signup("newbie")
    assert response.status_code == 202
    expected = "signup_complete" if verification == "none" else "verification_sent"
    assert response.json()["code"] == expected
    client = login(mode, "newbie")
    assert client.request("get", client.profile_path).status_code == 200


def test_with_no_verification_signup_mails_a_welcome_without_a_key(db, settings, mails):
    dualauth(settings, EMAIL_VERIFICATION="none")
    response = signup("newbie")
    assert response.json() == {"detail": response.json()["detail"], "code": "signup_complete"}
    [message] = mails("newbie@example.com")
    assert "key=" not in link_of(message)
    assert "action=" not in link_of(message)


# The same answer and the same work, whether or not an address has an account.


def _answer(response: Any) -> tuple[Any, ...]:
    """Everything a client can see of an answer."""
    headers = sorted((k, v) for k, v in response.items() if k not in {"Date", "Expires"})
    cookies = {name: dict(morsel) for name, morsel in response.cookies.items()}
    return response.status_code, response.content, headers, cookies


def _observed(call: Any, counting_hasher: Any, mails: Any) -> tuple[Any, ...]:
    """The answer to `call()` from a clean throttle, with the hashes and mails it took."""
    cache_clear()
    counting_hasher.calls = 0
    before = len(mails())
    response = call()
    return _answer(response), counting_hasher.calls, len(mails()) - before


def test_signup_with_a_known_address_answers_and_works_as_with_a_new_one(
    make_user, counting_hasher, mails
):
    make_user("alice")
    assert signup("pending").status_code == 202
    cases = {
        "new": "fresh@example.com",
        "known": "alice@example.com",
        "known in another case": "ALICE@Example.COM",
        "known, unverified": "pending@example.com",
    }
    seen = {
        case: _observed(
            lambda address=address, i=i: signup(f"newbie{i}", email=address),
            counting_hasher,
            mails,
        )
        for i, (case, address) in enumerate(cases.items())
    }
    assert seen["new"][0][0] == 202
    assert seen["new"][1:] == (1, 1)
    assert all(answer == seen["new"] for answer in seen.values()), seen
    # Each holds its name, none the address another account has.
    held = Account.objects.filter(user__username__in=["newbie1", "newbie2", "newbie3"])
    assert [(a.email_key, a.email_verified) for a in held] == [(None, False)] * 3
    assert Account.objects.get(user__username="alice").email_key == "alice@example.com"
    assert Account.objects.get(user__username="pending").email_key == "pending@example.com"
    told = mails("alice@example.com")
    assert len(told) == 2
    assert all("action=forgot-password" in link_of(m) and "key=" not in link_of(m) for m in told)


@pytest.mark.parametrize("endpoint", ["password-reset", "email-resend"])
def test_reset_and_resend_answer_and_work_the_same_for_any_address(
    make_user, counting_hasher, mails, endpoint
):
    make_user("alice")
    inactive = make_user("ivan")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    assert signup("pending").status_code == 202
    addresses = [
        "nobody@example.com",
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
        "ivan@example.com",
        "pending@example.com",
    ]
    seen = {
        address: _observed(
            lambda address=address: public_post(endpoint, {"email": address}),
            counting_hasher,
            mails,
        )
        for address in addresses
    }
    assert seen["nobody@example.com"][0][1] == json.dumps(MAIL_SENT, separators=(",", ":")).encode()
    assert seen["nobody@example.com"][1:] == (0, 1)
    assert all(answer == seen["nobody@example.com"] for answer in seen.values()), seen


def test_an_email_change_to_a_taken_address_answers_as_to_a_free_one(
    make_user, counting_hasher, mails
):
    make_user("alice")
    make_user("bob")
    client = login("jwt-header", "alice")
    seen = {
        address: _observed(
            lambda address=address: client.request(
                "post", account_path("email-change"), {"email": address}
            ),
            counting_hasher,
            mails,
        )
        for address in ("free@example.com", "bob@example.com", "BOB@example.com")
    }
    assert seen["free@example.com"][0][0] == 202
    assert seen["free@example.com"][1:] == (0, 1)
    assert all(answer == seen["free@example.com"] for answer in seen.values()), seen
    assert all("key=" not in link_of(m) for m in mails("bob@example.com"))


@pytest.mark.parametrize("taken", ["alice", "Alice", "ALICE"])
def test_a_taken_username_in_any_case_is_a_400_on_username(make_user, mails, taken):
    make_user("alice")
    response = signup(taken, email="someone.else@example.com")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "username" in response.json()["errors"]
    assert User.objects.count() == 1
    assert mails() == []


def _follow_ups(name: str) -> list[tuple[Any, ...]]:
    """What a visitor learns of a signup of `name` afterwards: a login with its name and
    password in every mode, and a second signup with the name.
    """
    answers: list[tuple[Any, ...]] = []
    for mode in MODES:
        response = ModeClient(mode).login(name, PASSWORD)
        answers.append((mode, response.status_code, response.json()))
    again = signup(name, email="someone.else@example.com")
    answers.append(("signup", again.status_code, again.json()))
    return answers


def test_a_signup_with_a_known_address_holds_its_name_and_answers_its_follow_ups_as_a_new_one(
    make_user, mails
):
    alice = make_user("alice")
    assert signup("fresh", email="fresh@example.com").status_code == 202
    assert signup("squatter", email="ALICE@example.com").status_code == 202
    new, known = _follow_ups("fresh"), _follow_ups("squatter")
    assert [answer[1:] for answer in known] == [answer[1:] for answer in new]
    assert {answer[1] for answer in new[:-1]} == {403}
    assert {answer[2]["code"] for answer in new[:-1]} == {"email_not_verified"}
    assert new[-1][1:] == (400, {**new[-1][2], "errors": {"username": ["This username is taken."]}})
    # Only the mail differs: the owner is told, no key goes anywhere, her account is hers.
    [told] = mails("alice@example.com")
    assert "action=forgot-password" in link_of(told)
    assert "key=" not in link_of(told)
    assert Account.objects.get(user=alice).email_key == "alice@example.com"
    login("session", "alice")


def test_a_signup_waiting_on_an_address_never_takes_it_when_it_frees(make_user, mails):
    alice = make_user("alice")
    assert signup("squatter", email="alice@example.com").status_code == 202
    alice.email = "alice.elsewhere@example.com"
    alice.save()
    squatter = User.objects.get(username="squatter")
    squatter.save()
    account = Account.objects.get(user=squatter)
    assert (account.email_key, account.email_verified) == (None, False)


def test_a_signup_never_verified_in_time_is_purged_and_frees_its_name(make_user, mails, clock):
    make_user("alice")
    assert signup("fresh").status_code == 202
    assert signup("squatter", email="alice@example.com").status_code == 202
    clock.shift(dualauth_settings.VERIFICATION_KEY_LIFETIME - SECOND)
    assert signup("late").status_code == 202
    call_command("accounts_purge", stdout=io.StringIO())
    assert set(User.objects.values_list("username", flat=True)) == {
        "alice",
        "fresh",
        "squatter",
        "late",
    }
    clock.shift(2 * SECOND)
    out = io.StringIO()
    call_command("accounts_purge", stdout=out)
    assert out.getvalue() == "purged 2 unverified signup(s)\n"
    assert set(User.objects.values_list("username", flat=True)) == {"alice", "late"}
    assert signup("fresh").status_code == 202
    assert signup("squatter").status_code == 202


def test_a_verified_signup_is_never_purged(mails, clock):
    assert signup("newbie").status_code == 202
    key = last_key(mails, "newbie@example.com")
    assert public_post("email-verify", {"key": key, "password": PASSWORD}).status_code == 200
    clock.shift(dualauth_settings.VERIFICATION_KEY_LIFETIME * 10)
    call_command("accounts_purge", stdout=io.StringIO())
    login("session", "newbie")


@pytest.mark.parametrize("verification", ["optional", "none"])
def test_without_mandatory_verification_nothing_is_purged(settings, mails, clock, verification):
    dualauth(settings, EMAIL_VERIFICATION=verification)
    assert signup("newbie").status_code == 202
    clock.shift(dualauth_settings.VERIFICATION_KEY_LIFETIME * 10)
    call_command("accounts_purge", stdout=io.StringIO())
    assert User.objects.filter(username="newbie").exists()


# Pre-hijack: whoever signs up with someone's address verifies nothing by that mail alone.


@pytest.mark.parametrize("password", [None, "", "the attacker guessed wrong"])
def test_a_signups_key_without_the_password_that_signed_up_verifies_nothing(mails, password):
    assert signup("attacker", email="victim@example.com").status_code == 202
    body = {"key": last_key(mails, "victim@example.com")}
    if password is not None:
        body["password"] = password
    response = public_post("email-verify", body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert "password" in response.json()["errors"]
    assert not Account.objects.get(user__username="attacker").email_verified
    refused = ModeClient("session").login("attacker", PASSWORD)
    assert (refused.status_code, refused.json()["code"]) == (403, "email_not_verified")
    # The key lives on for the one who signed up.
    body["password"] = PASSWORD
    assert public_post("email-verify", body).status_code == 200


def test_wrong_passwords_at_verification_count_as_failed_logins(mails):
    assert signup("newbie").status_code == 202
    key = last_key(mails, "newbie@example.com")
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        response = public_post("email-verify", {"key": key, "password": "not it"})
        assert response.status_code == 400
    throttled = public_post("email-verify", {"key": key, "password": PASSWORD})
    assert (throttled.status_code, throttled.json()["code"]) == (429, "throttled")
    assert ModeClient("session").login("newbie", PASSWORD).status_code == 429


def test_an_email_change_key_needs_no_password(user, mails):
    client = login("jwt-header", user.get_username())
    response = client.request("post", account_path("email-change"), {"email": "moved@example.com"})
    assert response.status_code == 202
    verify = public_post("email-verify", {"key": last_key(mails, "moved@example.com")})
    assert verify.json() == {"email": "moved@example.com", "verified": True}


def test_an_address_is_unique_whatever_its_case(make_user, mails):
    alice = make_user("alice")
    assert signup("newbie", email="ALICE@example.com").status_code == 202
    assert Account.objects.get(user__username="newbie").email_key is None
    assert Account.objects.get(user=alice).email_key == "alice@example.com"
    [told] = mails("alice@example.com")
    assert "action=forgot-password" in link_of(told)


# Throttles.


def _throttled(response: Any) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["code"] == "throttled"
    window = dualauth_settings.ACCOUNT_THROTTLE_WINDOW.total_seconds()
    assert 0 < int(response["Retry-After"]) <= window


def _call(endpoint: str, i: int, **extra: Any) -> Any:
    """Call the public `endpoint` with the `i`th of a series of distinct, well-formed bodies."""
    body = {
        "signup": {"username": f"n{i}", "email": f"n{i}@example.com", "password": PASSWORD},
        "email-verify": {"key": f"no-such-key-{i}"},
        "email-resend": {"email": f"n{i}@example.com"},
        "password-reset": {"email": f"n{i}@example.com"},
        "password-reset-confirm": {"key": f"no-such-key-{i}", "new_password": NEW_PASSWORD},
    }[endpoint]
    return public_post(endpoint, body, **extra)


@pytest.mark.parametrize("endpoint", PUBLIC)
def test_each_public_endpoint_is_throttled_per_client_address(db, settings, mails, endpoint):
    dualauth(settings, ACCOUNT_REQUESTS_PER_ADDRESS=2)
    for i in range(2):
        assert _call(endpoint, i).status_code in (202, 400)
    _throttled(_call(endpoint, 2))
    assert not User.objects.filter(username="n2").exists()
    others = [other for other in PUBLIC if other != endpoint]
    assert all(_call(other, 3).status_code != 429 for other in others)
    assert _call(endpoint, 4, REMOTE_ADDR="198.51.100.7").status_code != 429


def test_the_client_address_limit_ends_when_the_window_passes(db, settings, clock, mails):
    dualauth(settings, ACCOUNT_REQUESTS_PER_ADDRESS=2)
    for i in range(2):
        _call("password-reset", i)
    clock.shift(dualauth_settings.ACCOUNT_THROTTLE_WINDOW - SECOND)
    response = _call("password-reset", 2)
    _throttled(response)
    assert response["Retry-After"] == "1"
    clock.shift(SECOND)
    assert _call("password-reset", 3).status_code == 202


def _mail_call(endpoint: str, address: str, i: int) -> Any:
    """Ask `endpoint` for a mail to `address`."""
    if endpoint == "signup":
        return signup(f"n{i}", email=address)
    if endpoint == "email-change":
        client = login("jwt-header", "bob")
        return client.request("post", account_path("email-change"), {"email": address})
    return public_post(endpoint, {"email": address})


@pytest.mark.parametrize("address", ["alice@example.com", "nobody@example.com"])
@pytest.mark.parametrize("fourth", ["password-reset", "email-resend", "signup", "email-change"])
def test_the_fourth_mail_to_one_address_is_refused_and_sends_nothing(
    make_user, mails, address, fourth
):
    make_user("alice")
    make_user("bob")
    limit = dualauth_settings.ACCOUNT_MAILS_PER_EMAIL
    mix = ["password-reset", "email-resend", "password-reset"]
    for i in range(limit):
        spelled = address.upper() if i % 2 else address
        assert _mail_call(mix[i % len(mix)], spelled, i).status_code == 202
    _throttled(_mail_call(fourth, address, limit))
    assert len(mails(address)) == limit
    assert not User.objects.filter(username=f"n{limit}").exists()
    assert User.objects.get(username="bob").email == "bob@example.com"
    assert _mail_call("password-reset", "other@example.com", 0).status_code == 202
    assert len(mails("other@example.com")) == 1


def test_the_mail_limit_ends_when_the_window_passes(make_user, clock, mails):
    make_user("alice")
    for _ in range(dualauth_settings.ACCOUNT_MAILS_PER_EMAIL):
        public_post("password-reset", {"email": "alice@example.com"})
    clock.shift(dualauth_settings.ACCOUNT_THROTTLE_WINDOW - SECOND)
    _throttled(public_post("email-resend", {"email": "alice@example.com"}))
    clock.shift(SECOND)
    assert public_post("email-resend", {"email": "alice@example.com"}).status_code == 202
    assert len(mails("alice@example.com")) == dualauth_settings.ACCOUNT_MAILS_PER_EMAIL + 1


@pytest.mark.server
def test_the_client_address_limit_is_shared_with_a_server_process(
    db, settings, mails, live_server_factory
):
    require_shared_cache()
    server = live_server_factory(workers=1, threads=2, ACCOUNT_REQUESTS_PER_ADDRESS="2")
    dualauth(settings, ACCOUNT_REQUESTS_PER_ADDRESS=2)
    for i in range(2):
        assert _call("password-reset", i).status_code == 202
    path = account_path("password-reset")
    response = httpx.post(f"{server.url}{path}", json={"email": "n2@example.com"}, timeout=10)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response.headers["Retry-After"]) > 0


# Users made other than by signup, and audit events.


def test_a_superuser_made_by_createsuperuser_counts_as_verified_and_logs_in(db, monkeypatch, mode):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", interactive=False, username="root", email="root@example.com")
    root = User.objects.get(username="root")
    assert Account.objects.get(user=root).email_verified
    client = login(mode, "root")
    assert client.request("get", account_path("account")).json()["email_verified"] is True


def test_an_address_an_operator_sets_counts_as_verified(mails):
    assert signup("newbie").status_code == 202
    newbie = User.objects.get(username="newbie")
    newbie.email = "Elsewhere@Example.com"
    newbie.save()
    account = Account.objects.get(user=newbie)
    assert (account.email_key, account.email_verified) == ("elsewhere@example.com", True)
    login("session", "newbie")


def test_every_account_event_is_audited_with_its_user(user, mails, audit_events):
    assert signup("newbie").status_code == 202
    newbie = User.objects.get(username="newbie")
    public_post(
        "email-verify", {"key": last_key(mails, "newbie@example.com"), "password": PASSWORD}
    )
    public_post("password-reset", {"email": user.email})
    body = {"key": last_key(mails, user.email), "new_password": NEW_PASSWORD}
    public_post("password-reset-confirm", body)
    client = login("jwt-header", user.get_username(), NEW_PASSWORD)
    family = LoginFamily.objects.get(user_id=user.pk, revoked_at__isnull=True).pk
    client.request("post", account_path("reauthenticate"), {"password": NEW_PASSWORD})
    client.request("post", account_path("email-change"), {"email": "moved@example.com"})
    public_post("email-verify", {"key": last_key(mails, "moved@example.com")})
    assert client.request("delete", account_path("account")).status_code == 204
    events = audit_events()
    expected = {
        "signup": newbie.pk,
        "email_verified": newbie.pk,
        "password_reset_requested": user.pk,
        "password_reset": user.pk,
        "email_change_requested": user.pk,
        "email_changed": user.pk,
        "reauthenticated": user.pk,
        "account_deleted": user.pk,
    }
    for kind, user_id in expected.items():
        found = [e for e in events if e["event"] == kind]
        assert found, kind
        assert found[-1]["user_id"] == user_id, kind
        assert found[-1]["ip"] == "127.0.0.1", kind
    reauthenticated = next(e for e in events if e["event"] == "reauthenticated")
    assert reauthenticated["family_id"] == str(family)
    text = json.dumps(events)
    for message in mails():
        if "key=" in link_of(message):
            assert link_of(message).rpartition("key=")[2] not in text
    assert NEW_PASSWORD not in text
    assert PASSWORD not in text


def test_malformed_calls_count_against_the_client_address_limit(db, settings, mails):
    dualauth(settings, ACCOUNT_REQUESTS_PER_ADDRESS=2)
    for _ in range(2):
        assert public_post("password-reset", {"email": ["not", "an", "address"]}).status_code == 400
    _throttled(public_post("password-reset", {"email": "alice@example.com"}))
    assert mails() == []


def test_one_account_asks_to_move_to_at_most_the_mail_limit_of_addresses(make_user, mails):
    make_user("alice")
    client = login("jwt-header", "alice")
    limit = dualauth_settings.ACCOUNT_MAILS_PER_EMAIL
    for i in range(limit):
        body = {"email": f"elsewhere-{i}@example.com"}
        assert client.request("post", account_path("email-change"), body).status_code == 202
    body = {"email": "one-more@example.com"}
    _throttled(client.request("post", account_path("email-change"), body))
    assert mails("one-more@example.com") == []
    assert len(mails()) == limit


def _lock_waiter_seen(timeout: float = 30.0) -> None:
    """Return once some transaction waits for a row lock (PostgreSQL's pg_locks says so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
        threading.Event().wait(0.01)
    raise AssertionError("no transaction came to wait for the row lock")


def test_a_reset_key_used_while_the_password_is_being_changed_resets_nothing(
    transactional_db, make_user, mails
):
    require_service(uses_postgres(), "needs PostgreSQL: its row locks order the two changes")
    alice = make_user("alice")
    assert public_post("password-reset", {"email": alice.email}).status_code == 202
    key = last_key(mails, alice.email)
    locked, release = threading.Event(), threading.Event()

    def change_first() -> None:
        # Another use of the key, or any password change, holding the user's row.
        try:
            with transaction.atomic():
                holder = User.objects.select_for_update().get(pk=alice.pk)
                locked.set()
                assert release.wait(30)
                holder.set_password("the first new passphrase 1")
                holder.save(update_fields=["password"])
        finally:
            connection.close()

    def confirm() -> Any:
        try:
            body = {"key": key, "new_password": NEW_PASSWORD}
            return public_post("password-reset-confirm", body)
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(change_first)
        assert locked.wait(30)
        second = pool.submit(confirm)
        # The confirm read the key while the password was still the old one, and now waits.
        _lock_waiter_seen()
        release.set()
        first.result()
        response = second.result()

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "key_not_valid"
    alice.refresh_from_db()
    assert alice.check_password("the first new passphrase 1")


@pytest.mark.parametrize("mode", MODES)
def test_a_password_reset_does_not_bypass_the_second_factor(user, smtp, mode):
    client = login(mode, user.get_username())
    secret = client.request("get", account_path("totp")).json()["secret"]
    code = pyotp.TOTP(secret).now()
    assert client.request("post", account_path("totp"), {"code": code}).status_code == 201
    assert public_post("password-reset", {"email": user.email}).status_code == 202
    # One mail tells of the app, the other holds the reset key.
    sent = smtp.wait(user.email, count=2)
    [message] = [m for m in sent if "reset-password" in link_of(m)]
    body = {"key": key_of(message), "new_password": NEW_PASSWORD}
    assert public_post("password-reset-confirm", body).status_code == 204
    again = ModeClient(mode).login(user.get_username(), NEW_PASSWORD)
    assert again.status_code == 202
    assert again.json()["code"] == "mfa_required"
