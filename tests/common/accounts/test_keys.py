"""Account keys: URL-safe, expiring, single-use, bound to their user, purpose, state and secret."""

import base64
import json
import logging
import re
import smtplib
import zlib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from common.accounts import keys
from common.accounts.keys import (
    PASSWORD_RESET,
    PURPOSES,
    account_key_make,
    account_key_read,
)
from common.accounts.models import Account
from common.conf import dualauth_settings
from tests.common.accounts.conftest import (
    NEW_PASSWORD,
    URL_SAFE,
    account_path,
    dualauth,
    last_key,
    login,
    parsed,
    public_post,
    signup,
)
from tests.conftest import PASSWORD
from tests.mail import key_of, link_of

pytestmark = pytest.mark.django_db
User = get_user_model()
KINDS = ("verification", "reset", "change")
# The answer of each kind's endpoint to a good key, and the setting its lifetime comes from.
SUCCESS = {"verification": 200, "reset": 204, "change": 200}
LIFETIME = {
    "verification": "VERIFICATION_KEY_LIFETIME",
    "reset": "RESET_KEY_LIFETIME",
    "change": "VERIFICATION_KEY_LIFETIME",
}
OLD_SECRET = "the secret the deployment had before its rotation, long and random enough"
NEW_SECRET = "the secret the deployment has now, after its rotation, long and random too"


def _key(kind: str, mails: Any, user: Any) -> str:
    """A fresh key of `kind`: a new account's verification, alice's reset, or her move."""
    if kind == "verification":
        assert signup("newbie").status_code == 202
        return last_key(mails, "newbie@example.com")
    if kind == "reset":
        assert public_post("password-reset", {"email": user.email}).status_code == 202
        return last_key(mails, user.email)
    client = login("jwt-header", user.get_username())
    response = client.request("post", account_path("email-change"), {"email": "moved@example.com"})
    assert response.status_code == 202, response.content
    return last_key(mails, "moved@example.com")


def _use(kind: str, key: str, new_password: str = NEW_PASSWORD) -> Any:
    """Present `key` where a key of `kind` goes."""
    if kind == "reset":
        return public_post("password-reset-confirm", {"key": key, "new_password": new_password})
    return public_post("email-verify", {"key": key, "password": PASSWORD})


def _nothing_happened(kind: str, user: Any) -> None:
    """Assert that no key of `kind` took effect."""
    if kind == "verification":
        assert not Account.objects.get(user__username="newbie").email_verified
    elif kind == "reset":
        assert User.objects.get(pk=user.pk).check_password(PASSWORD)
    else:
        assert User.objects.get(pk=user.pk).email == user.email


def _refused(response: Any) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "key_not_valid"


def _flipped(key: str, index: int) -> str:
    """`key` with the character at `index` replaced by another URL-safe one."""
    return key[:index] + ("B" if key[index] == "A" else "A") + key[index + 1 :]


def test_every_key_is_url_safe_and_travels_in_its_link_verbatim(user, mails):
    for kind in KINDS:
        key = _key(kind, mails, user)
        assert re.match(URL_SAFE, key), key
    for message in mails():
        if "key=" in link_of(message):
            key = link_of(message).split("key=", 1)[1].split("&", 1)[0]
            assert re.match(URL_SAFE, key), key


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_still_works_just_inside_its_lifetime(user, mails, clock, kind):
    key = _key(kind, mails, user)
    clock.shift(getattr(dualauth_settings, LIFETIME[kind]) - timedelta(seconds=1))
    assert _use(kind, key).status_code == SUCCESS[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_is_refused_once_its_lifetime_is_over(user, mails, clock, kind):
    key = _key(kind, mails, user)
    clock.shift(getattr(dualauth_settings, LIFETIME[kind]) + timedelta(seconds=1))
    _refused(_use(kind, key))
    _nothing_happened(kind, user)


@pytest.mark.parametrize("kind", KINDS)
def test_a_used_key_is_refused(user, mails, kind):
    key = _key(kind, mails, user)
    assert _use(kind, key).status_code == SUCCESS[kind]
    _refused(_use(kind, key, new_password="yet another passphrase 7"))
    if kind == "reset":
        assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("segment", ["version", "timestamp", "ciphertext", "mac"])
def test_a_tampered_key_is_refused(user, mails, kind, segment):
    key = _key(kind, mails, user)
    # Fernet's layout, in base64 characters; the last one may hold padding bits only.
    index = {"version": 0, "timestamp": 6, "ciphertext": len(key) // 2, "mac": len(key) - 2}[
        segment
    ]
    _refused(_use(kind, _flipped(key, index)))
    _nothing_happened(kind, user)


def _bytes(key: str) -> bytes:
    return base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))


def test_a_key_made_of_another_users_payload_and_this_ones_signature_is_refused(mails):
    assert signup("newbie").status_code == 202
    assert signup("other").status_code == 202
    mine = last_key(mails, "newbie@example.com")
    theirs = last_key(mails, "other@example.com")
    # Their timestamp, IV and ciphertext, with my MAC (Fernet's last 32 bytes).
    spliced = base64.urlsafe_b64encode(_bytes(theirs)[:-32] + _bytes(mine)[-32:]).decode()
    _refused(_use("verification", spliced))
    assert not Account.objects.filter(email_verified=True).exists()


def test_a_signed_key_naming_another_user_than_its_state_was_made_for_is_refused(user, make_user):
    bob = make_user("bob")
    made = account_key_make(purpose=PASSWORD_RESET, user=user)
    cipher = keys._cipher(PASSWORD_RESET)
    payload = json.loads(cipher.decrypt(made + "=" * (-len(made) % 4)))
    forged = cipher.encrypt(json.dumps({**payload, "u": str(bob.pk)}).encode()).decode()
    _refused(_use("reset", forged))
    assert User.objects.get(pk=bob.pk).check_password(PASSWORD)


@pytest.mark.parametrize("path", ["password endpoint", "set_password and save", "another reset"])
def test_a_reset_key_dies_when_the_password_changes_by_any_path(user, mails, path):
    key = _key("reset", mails, user)
    if path == "password endpoint":
        client = login("session", user.get_username())
        response = client.request(
            "post", "/api/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert response.status_code == 204, response.content
    elif path == "set_password and save":
        found = User.objects.get(pk=user.pk)
        found.set_password(NEW_PASSWORD)
        found.save()
    else:
        assert _use("reset", _key("reset", mails, user)).status_code == 204
    _refused(_use("reset", key, new_password="yet another passphrase 7"))
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)


def test_a_reset_key_refused_for_a_weak_password_still_works(user, mails):
    key = _key("reset", mails, user)
    response = _use("reset", key, new_password="123")
    assert response.status_code == 400
    assert "new_password" in response.json()["errors"]
    assert _use("reset", key).status_code == 204


def test_a_verification_key_dies_when_an_operator_changes_the_address(mails):
    key = _key("verification", mails, None)
    newbie = User.objects.get(username="newbie")
    newbie.email = "elsewhere@example.com"
    newbie.save()
    _refused(_use("verification", key))
    assert User.objects.get(pk=newbie.pk).email == "elsewhere@example.com"


def test_an_email_change_key_dies_when_the_address_changes_by_another_key(user, mails):
    client = login("jwt-header", user.get_username())
    for address in ("first@example.com", "second@example.com"):
        response = client.request("post", account_path("email-change"), {"email": address})
        assert response.status_code == 202
    first, second = last_key(mails, "first@example.com"), last_key(mails, "second@example.com")
    assert _use("change", second).status_code == 200
    _refused(_use("change", first))
    assert User.objects.get(pk=user.pk).email == "second@example.com"


@pytest.mark.parametrize("path", ["reset by mail", "password endpoint"])
def test_an_email_change_key_dies_when_the_password_changes(user, mails, path):
    # Whoever asked for the move from a stolen login must not finish it after the owner's reset.
    key = _key("change", mails, user)
    if path == "reset by mail":
        assert _use("reset", _key("reset", mails, user)).status_code == 204
    else:
        client = login("session", user.get_username())
        body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
        assert client.request("post", "/api/password/", body).status_code == 204
    _refused(_use("change", key))
    assert User.objects.get(pk=user.pk).email == user.email


def test_an_email_change_key_is_refused_once_another_account_took_the_address(user, mails):
    key = _key("change", mails, user)
    assert signup("newbie", email="moved@example.com").status_code == 202
    _refused(_use("change", key))
    assert User.objects.get(pk=user.pk).email == user.email
    assert Account.objects.get(user=user).email_key == user.email


@pytest.mark.parametrize("made", PURPOSES)
@pytest.mark.parametrize("read", PURPOSES)
def test_a_key_reads_only_for_the_purpose_it_was_made_for(user, made, read):
    key = account_key_make(purpose=made, user=user, target="moved@example.com")
    found = account_key_read(purpose=read, key=key, max_age=timedelta(days=1))
    if made == read:
        assert found is not None
        assert (found[0].pk, found[1]) == (user.pk, "moved@example.com")
    else:
        assert found is None


@pytest.mark.parametrize(
    ("kind", "elsewhere"),
    [("reset", "verification"), ("verification", "reset"), ("change", "reset")],
)
def test_a_key_of_one_purpose_is_refused_by_another_purposes_endpoint(user, mails, kind, elsewhere):
    key = _key(kind, mails, user)
    _refused(_use(elsewhere, key))
    _nothing_happened(kind, user)
    if elsewhere == "reset" and kind == "verification":
        assert User.objects.get(username="newbie").check_password(PASSWORD)


def test_a_key_signed_with_a_fallback_secret_still_works(settings, mails):
    settings.SECRET_KEY = OLD_SECRET
    key = _key("verification", mails, None)
    settings.SECRET_KEY = NEW_SECRET
    settings.SECRET_KEY_FALLBACKS = [OLD_SECRET]
    assert _use("verification", key).status_code == 200


def test_a_key_signed_with_an_unknown_secret_is_refused(settings, mails):
    settings.SECRET_KEY = "a secret this deployment never had, long enough to look real"
    key = _key("verification", mails, None)
    settings.SECRET_KEY = NEW_SECRET
    settings.SECRET_KEY_FALLBACKS = [OLD_SECRET]
    _refused(_use("verification", key))


def _every_kind_of_key(user: Any, mails: Any) -> list[str]:
    """Keys of a whole account's life, used and unused, each also presented once too often."""
    made = []
    for kind in ("verification", "change"):
        key = _key(kind, mails, user)
        made.append(key)
        assert _use(kind, key).status_code == SUCCESS[kind]
        _refused(_use(kind, key))
    for _ in range(2):
        assert public_post("password-reset", {"email": "moved@example.com"}).status_code == 202
        made.append(last_key(mails, "moved@example.com"))
    assert _use("reset", made[-1]).status_code == 204
    _refused(_use("reset", made[-1]))
    # A key still waiting in its mail.
    assert signup("waiting").status_code == 202
    made.append(last_key(mails, "waiting@example.com"))
    return made


def _traces(key: str) -> list[str]:
    """What of `key` must appear nowhere: the whole of it, and its MAC alone."""
    return [key, key[-42:]]


def _readable(key: str) -> str:
    """Whatever text anyone can decode from `key`, without the server's secret: each of its
    dot-separated parts, and the whole, read as base64 (and inflated where it is compressed).
    """
    found = [key]
    for part in [key, *key.split(".")]:
        compressed = part.startswith(".")
        try:
            data = _bytes(part.lstrip("."))
            found.append((zlib.decompress(data) if compressed else data).decode("latin-1"))
        except (ValueError, zlib.error):
            continue
    return "\n".join(found)


def test_no_mailed_key_shows_its_user_or_its_address(user, mails):
    signed_up_pk = None
    for kind in KINDS:
        key = _key(kind, mails, user)
        if kind == "verification":
            signed_up_pk = User.objects.get(username="newbie").pk
        readable = _readable(key)
        for secret in (f'"u":"{user.pk}"', f'"u":"{signed_up_pk}"', user.email):
            assert secret not in readable, (kind, readable)
        assert "moved@example.com" not in readable
        assert "newbie@example.com" not in readable


def test_no_key_appears_in_any_log_record(user, mails, caplog):
    caplog.set_level(logging.DEBUG)
    made = _every_kind_of_key(user, mails)
    assert caplog.records
    for record in caplog.records:
        text = record.getMessage() + repr(vars(record))
        for key in made:
            for trace in _traces(key):
                assert trace not in text, record


def test_no_key_appears_in_the_log_of_a_mail_that_could_not_be_sent(
    user, settings, caplog, recording_backend
):
    caplog.set_level(logging.DEBUG)
    dualauth(settings, MAIL_RETRY_DELAYS=(0,))
    recording_backend.failure = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    assert public_post("password-reset", {"email": user.email}).status_code == 202
    assert signup("newbie").status_code == 202
    made = [key_of(parsed(message)) for message in recording_backend.sent]
    assert len(made) == 4
    assert any(r.getMessage() == "mail_failed" for r in caplog.records)
    for record in caplog.records:
        text = record.getMessage() + repr(vars(record))
        for key in made:
            for trace in _traces(key):
                assert trace not in text, record


def _cell_text(value: Any) -> str:
    if isinstance(value, memoryview | bytes):
        return bytes(value).decode("latin-1")
    return str(value)


def test_no_key_is_stored_in_any_table(user, mails):
    made = _every_kind_of_key(user, mails)
    cells = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            cells.extend(_cell_text(value) for row in cursor.fetchall() for value in row)
    assert Account.objects.exists()
    dump = "\n".join(cells)
    for key in made:
        for trace in _traces(key):
            assert trace not in dump
