"""Passkeys are made only from a pending, fresh, user-verified ceremony of this site, and a
login with one is refused for every answer that is not exactly that: another origin or RP
id, no user verification, a used or expired challenge, a counter that went back.
"""

import hashlib
import struct
import uuid
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from django.utils import timezone
from rest_framework.exceptions import NotFound, Throttled

from common.accounts.models import Account
from common.conf import dualauth_settings
from common.exceptions import EmailNotVerified, PasskeyNotValid
from common.mfa.models import MfaChallenge, Passkey
from common.mfa.webauthn.ceremony import CeremonyRefused, relying_party
from common.mfa.webauthn.selectors import passkey_count, passkey_list
from common.mfa.webauthn.services import (
    _passkey_use,
    passkey_assertion_options,
    passkey_assertion_verify,
    passkey_delete,
    passkey_login_check,
    passkey_login_options,
    passkey_register,
    passkey_registration_options,
    passkey_rename,
)
from tests.common.accounts.conftest import dualauth
from tests.common.mfa.webauthn.conftest import ORIGIN, RP_ID, passkey_add, site_request
from tests.conftest import as_json
from tests.webauthn import SoftAuthenticator, b64url, b64url_decode

pytestmark = pytest.mark.django_db
FAMILY = uuid.uuid4()
# The answer a browser gives: its origin and RP id are the site's, its user verified.
SPOILED = {
    "another origin": {"origin": "https://evil.example"},
    "another RP id": {"rp_id": "evil.example"},
    "no user verification": {"user_verified": False},
    "no user presence": {"user_present": False},
}


def _options(user: Any, family_id: uuid.UUID = FAMILY) -> dict[str, Any]:
    return passkey_registration_options(
        user_id=user.pk, family_id=family_id, request=site_request()
    )


def _register(user: Any, answer: Any, family_id: uuid.UUID = FAMILY, name: str = "Laptop") -> Any:
    return passkey_register(
        user_id=user.pk, family_id=family_id, name=name, credential=answer, request=site_request()
    )


def _login(authenticator: SoftAuthenticator, origin: str = ORIGIN, **knobs: Any) -> Any:
    """A passwordless login: fresh options, the authenticator's answer, checked."""
    started = passkey_login_options(request=site_request())
    answer = authenticator.authenticate(started["options"], origin, **knobs)
    return passkey_login_check(
        challenge_token=started["challenge_token"], credential=answer, request=site_request()
    )


def _failures(audit_events: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [e for e in audit_events() if e["event"] == "passkey_login_failed"]


# Registration.


def test_registration_options_want_a_discoverable_user_verifying_passkey_of_this_site(user, clock):
    options = _options(user)
    assert options["rp"] == {"id": RP_ID, "name": dualauth_settings.WEBAUTHN_RP_NAME}
    assert options["user"]["name"] == user.get_username()
    assert options["authenticatorSelection"] == {
        "residentKey": "required",
        "requireResidentKey": True,
        "userVerification": "required",
    }
    assert options["attestation"] == "none"
    assert options["excludeCredentials"] == []
    lifetime = dualauth_settings.WEBAUTHN_CHALLENGE_LIFETIME
    assert options["timeout"] == lifetime.total_seconds() * 1000
    pending = MfaChallenge.objects.get()
    assert bytes(pending.webauthn_challenge) == b64url_decode(options["challenge"])
    assert pending.purpose == "passkey-register"
    assert pending.expires_at == timezone.now() + lifetime


def test_registration_options_exclude_the_users_passkeys_and_keep_their_user_handle(
    user, make_user, authenticator
):
    first = passkey_add(authenticator, user)
    passkey_add(SoftAuthenticator(), make_user("bob"))
    options = _options(user)
    assert [b64url_decode(c["id"]) for c in options["excludeCredentials"]] == [
        bytes(first.credential_id)
    ]
    assert b64url_decode(options["user"]["id"]) == bytes(first.user_handle)
    assert len(bytes(first.user_handle)) == 32


def test_new_options_replace_the_logins_pending_ones(user, authenticator):
    stale = authenticator.register(_options(user), ORIGIN)
    fresh = SoftAuthenticator().register(_options(user), ORIGIN)
    assert MfaChallenge.objects.count() == 1
    with pytest.raises(PasskeyNotValid):
        _register(user, stale)
    assert passkey_count(user_id=user.pk) == 0
    with pytest.raises(PasskeyNotValid):
        # Refusing the stale answer took the pending challenge: the fresh one is gone too.
        _register(user, fresh)


def test_a_registration_keeps_the_passkey_and_audits_it(user, authenticator, audit_events):
    answer = authenticator.register(_options(user), ORIGIN)
    passkey = _register(user, answer, name="Phone")
    [credential] = authenticator.credentials.values()
    assert passkey.user_id == user.pk
    assert passkey.name == "Phone"
    assert bytes(passkey.credential_id) == credential.credential_id
    assert bytes(passkey.user_handle) == credential.user_handle
    assert passkey.sign_count == 0
    assert passkey.transports == ["hybrid", "internal"]
    assert passkey.last_used_at is None
    [added] = [e for e in audit_events() if e["event"] == "passkey_added"]
    assert added["user_id"] == as_json(user.pk)
    assert added["passkey_id"] == passkey.pk
    assert MfaChallenge.objects.count() == 0


@pytest.mark.parametrize("spoiled", SPOILED)
def test_a_registration_answer_not_made_for_this_site_by_a_verified_user_is_refused(
    user, authenticator, spoiled
):
    knobs = dict(SPOILED[spoiled])
    answer = authenticator.register(_options(user), knobs.pop("origin", ORIGIN), **knobs)
    with pytest.raises(PasskeyNotValid):
        _register(user, answer)
    assert passkey_count(user_id=user.pk) == 0


def test_a_registration_answer_is_accepted_once(user, authenticator):
    answer = authenticator.register(_options(user), ORIGIN)
    _register(user, answer)
    with pytest.raises(PasskeyNotValid):
        _register(user, answer)
    assert passkey_count(user_id=user.pk) == 1


def test_a_refused_registration_answer_burns_its_challenge(user, authenticator):
    options = _options(user)
    with pytest.raises(PasskeyNotValid):
        _register(user, authenticator.register(options, "https://evil.example"))
    with pytest.raises(PasskeyNotValid):
        _register(user, SoftAuthenticator().register(options, ORIGIN))
    assert passkey_count(user_id=user.pk) == 0


def test_a_registration_answer_after_the_challenge_expired_is_refused(user, authenticator, clock):
    answer = authenticator.register(_options(user), ORIGIN)
    clock.shift(dualauth_settings.WEBAUTHN_CHALLENGE_LIFETIME)
    with pytest.raises(PasskeyNotValid):
        _register(user, answer)
    assert passkey_count(user_id=user.pk) == 0


def test_a_registration_answer_just_before_the_challenge_expires_is_kept(
    user, authenticator, clock
):
    answer = authenticator.register(_options(user), ORIGIN)
    clock.shift(dualauth_settings.WEBAUTHN_CHALLENGE_LIFETIME.total_seconds() - 1)
    assert _register(user, answer)


def test_a_registration_answers_only_the_options_of_its_own_login(user, make_user, authenticator):
    answer = authenticator.register(_options(user, family_id=FAMILY), ORIGIN)
    with pytest.raises(PasskeyNotValid):
        _register(user, answer, family_id=uuid.uuid4())
    bob = make_user("bob")
    with pytest.raises(PasskeyNotValid):
        # The login's challenge, but the user is another: it is burnt, nothing is kept.
        _register(bob, answer, family_id=FAMILY)
    assert Passkey.objects.count() == 0


def test_a_passkey_registered_already_is_refused(user, make_user, authenticator):
    answer = authenticator.register(_options(user), ORIGIN)
    bob = make_user("bob")
    Passkey.objects.create(
        user=bob,
        name="Taken",
        credential_id=b64url_decode(answer["rawId"]),
        public_key=b"x",
        user_handle=b"y",
        created_at=timezone.now(),
    )
    with pytest.raises(PasskeyNotValid):
        _register(user, answer)
    assert passkey_count(user_id=user.pk) == 0


def _spoil(answer: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    spoiled: dict[str, Any] = {**answer, "response": dict(answer["response"])}
    target = spoiled
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return spoiled


MALFORMED = [
    (("rawId",), None),
    (("rawId",), "é"),
    (("id",), "another"),
    (("type",), "password"),
    (("response",), "nope"),
    (("response", "clientDataJSON"), 42),
    (("response", "clientDataJSON"), "a"),
    (("response", "clientDataJSON"), b64url(b"{not json")),
    (("response", "clientDataJSON"), b64url(b'["a list"]')),
    (("response", "clientDataJSON"), b64url(b'{"type": "webauthn.create", "challenge": 7}')),
    (("response", "attestationObject"), b64url(b"\xff\x00garbage")),
    (("response", "attestationObject"), b64url(b"\xa0")),
    (("response", "attestationObject"), ""),
]


@pytest.mark.parametrize(("path", "value"), MALFORMED)
def test_a_malformed_registration_answer_is_refused_not_a_server_error(
    user, authenticator, path, value
):
    answer = _spoil(authenticator.register(_options(user), ORIGIN), path, value)
    with pytest.raises(PasskeyNotValid):
        _register(user, answer)


def _attestation_with_key(cose_key: bytes) -> str:
    """An attestationObject for this site whose attested key is `cose_key`."""
    credential_id = b"c" * 16
    auth_data = (
        hashlib.sha256(RP_ID.encode()).digest()
        + bytes([0x45])
        + struct.pack(">I", 0)
        + bytes(16)
        + struct.pack(">H", len(credential_id))
        + credential_id
        + cose_key
    )
    return b64url(cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data}))


@pytest.mark.parametrize(
    "cose_key",
    [
        # No members, an integer, a key type without its members, a point off the curve.
        {},
        7,
        {1: 2, 3: -7},
        {1: 2, 3: -7, -1: 1, -2: b"\x01" * 32, -3: b"\x02" * 32},
        {1: 1, 3: -8, -1: 6, -2: b"short"},
    ],
)
def test_a_registration_with_a_broken_public_key_is_refused_not_a_server_error(
    user, authenticator, cose_key
):
    answer = authenticator.register(_options(user), ORIGIN)
    answer["id"] = answer["rawId"] = b64url(b"c" * 16)
    answer["response"]["attestationObject"] = _attestation_with_key(cbor2.dumps(cose_key))
    with pytest.raises(PasskeyNotValid):
        _register(user, answer)
    assert passkey_count(user_id=user.pk) == 0


# Rename, delete, and the list.


def test_the_list_shows_each_passkey_with_its_last_use(
    user, make_user, authenticator, make_passkey, clock
):
    laptop = make_passkey(user, "Laptop")
    clock.shift(60)
    phones = SoftAuthenticator()
    phone = make_passkey(user, "Phone", by=phones)
    make_passkey(make_user("bob"), "Bob's")
    clock.shift(60)
    _login(phones)
    assert passkey_list(user_id=user.pk) == [
        {"id": laptop.pk, "name": "Laptop", "created_at": laptop.created_at, "last_used_at": None},
        {
            "id": phone.pk,
            "name": "Phone",
            "created_at": phone.created_at,
            "last_used_at": timezone.now(),
        },
    ]
    assert passkey_count(user_id=user.pk) == 2


def test_a_rename_changes_the_name_and_is_audited(user, make_passkey, audit_events):
    passkey = make_passkey(user)
    renamed = passkey_rename(user_id=user.pk, passkey_id=passkey.pk, name="Work laptop")
    assert renamed.name == "Work laptop"
    assert Passkey.objects.get(pk=passkey.pk).name == "Work laptop"
    assert [e["passkey_id"] for e in audit_events() if e["event"] == "passkey_renamed"] == [
        passkey.pk
    ]


def test_another_users_passkey_is_not_found_to_rename_or_delete(user, make_user, make_passkey):
    bobs = make_passkey(make_user("bob"), "Bob's")
    with pytest.raises(NotFound):
        passkey_rename(user_id=user.pk, passkey_id=bobs.pk, name="Mine now")
    with pytest.raises(NotFound):
        passkey_delete(user_id=user.pk, passkey_id=bobs.pk, request=site_request())
    assert Passkey.objects.get(pk=bobs.pk).name == "Bob's"


def test_deleting_a_passkey_removes_it_and_is_audited(user, make_passkey, audit_events, sent_mail):
    laptop = make_passkey(user, "Laptop")
    phone = make_passkey(user, "Phone", by=SoftAuthenticator())
    passkey_delete(user_id=user.pk, passkey_id=laptop.pk, request=site_request())
    assert list(Passkey.objects.values_list("pk", flat=True)) == [phone.pk]
    assert [e["passkey_id"] for e in audit_events() if e["event"] == "passkey_removed"] == [
        laptop.pk
    ]
    # The user is told; another factor is left, so two-step sign-in stays on.
    told = sent_mail()[-1]
    assert told.subject == "A passkey was removed from your account"
    assert "Laptop" in told.body
    assert "password alone" not in told.body


def test_deleting_the_last_passkey_tells_the_user(user, make_passkey, sent_mail):
    passkey = make_passkey(user)
    passkey_delete(user_id=user.pk, passkey_id=passkey.pk, request=site_request())
    _, removed = sent_mail()
    assert removed.to == [user.email]
    assert "your password alone now signs you in" in removed.body
    assert passkey_count(user_id=user.pk) == 0


# Passwordless login.


def test_login_options_name_no_passkey_and_want_user_verification(db):
    started = passkey_login_options(request=site_request())
    assert set(started) == {"challenge_token", "options"}
    options = started["options"]
    assert options["rpId"] == RP_ID
    assert options["userVerification"] == "required"
    assert options.get("allowCredentials", []) == []
    pending = MfaChallenge.objects.get()
    assert pending.purpose == "passkey-login"
    assert pending.user_id is None
    assert bytes(pending.webauthn_challenge) == b64url_decode(options["challenge"])
    assert started["challenge_token"] not in (pending.digest, options["challenge"])


def test_a_passkey_login_gives_its_user_and_records_the_use(
    user, authenticator, make_passkey, clock, audit_events
):
    passkey = make_passkey(user)
    assert _login(authenticator).pk == user.pk
    used = Passkey.objects.get(pk=passkey.pk)
    assert used.sign_count == 1
    assert used.last_used_at == timezone.now()
    [logged] = [e for e in audit_events() if e["event"] == "passkey_login"]
    assert (logged["user_id"], logged["passkey_id"]) == (as_json(user.pk), passkey.pk)
    assert _login(authenticator).pk == user.pk
    assert Passkey.objects.get(pk=passkey.pk).sign_count == 2


@pytest.mark.parametrize("spoiled", SPOILED)
def test_a_login_answer_not_made_for_this_site_by_a_verified_user_is_refused(
    user, authenticator, make_passkey, audit_events, spoiled
):
    passkey = make_passkey(user)
    knobs = dict(SPOILED[spoiled])
    with pytest.raises(PasskeyNotValid):
        _login(authenticator, knobs.pop("origin", ORIGIN), **knobs)
    assert Passkey.objects.get(pk=passkey.pk).last_used_at is None
    [failed] = _failures(audit_events)
    assert failed["user_id"] == as_json(user.pk)


def test_a_login_answer_is_accepted_once(user, authenticator, make_passkey):
    make_passkey(user)
    started = passkey_login_options(request=site_request())
    answer = authenticator.authenticate(started["options"], ORIGIN)
    token = started["challenge_token"]
    check = {"challenge_token": token, "credential": answer, "request": site_request()}
    assert passkey_login_check(**check).pk == user.pk
    with pytest.raises(PasskeyNotValid):
        passkey_login_check(**check)


def test_a_challenge_is_answered_once_even_with_a_new_counter(user, authenticator, make_passkey):
    make_passkey(user)
    started = passkey_login_options(request=site_request())
    token = started["challenge_token"]
    first = authenticator.authenticate(started["options"], ORIGIN)
    second = authenticator.authenticate(started["options"], ORIGIN)
    passkey_login_check(challenge_token=token, credential=first, request=site_request())
    with pytest.raises(PasskeyNotValid):
        passkey_login_check(challenge_token=token, credential=second, request=site_request())


def test_a_refused_login_answer_burns_its_challenge(user, authenticator, make_passkey):
    make_passkey(user)
    started = passkey_login_options(request=site_request())
    token = started["challenge_token"]
    bad = authenticator.authenticate(started["options"], ORIGIN, user_verified=False)
    with pytest.raises(PasskeyNotValid):
        passkey_login_check(challenge_token=token, credential=bad, request=site_request())
    good = authenticator.authenticate(started["options"], ORIGIN)
    with pytest.raises(PasskeyNotValid):
        passkey_login_check(challenge_token=token, credential=good, request=site_request())


def test_a_login_answer_after_the_challenge_expired_is_refused(
    user, authenticator, make_passkey, clock
):
    make_passkey(user)
    started = passkey_login_options(request=site_request())
    answer = authenticator.authenticate(started["options"], ORIGIN)
    clock.shift(dualauth_settings.WEBAUTHN_CHALLENGE_LIFETIME)
    with pytest.raises(PasskeyNotValid):
        passkey_login_check(
            challenge_token=started["challenge_token"], credential=answer, request=site_request()
        )


def test_a_login_answer_just_before_the_challenge_expires_is_accepted(
    user, authenticator, make_passkey, clock
):
    make_passkey(user)
    started = passkey_login_options(request=site_request())
    answer = authenticator.authenticate(started["options"], ORIGIN)
    clock.shift(dualauth_settings.WEBAUTHN_CHALLENGE_LIFETIME.total_seconds() - 1)
    user_logged_in = passkey_login_check(
        challenge_token=started["challenge_token"], credential=answer, request=site_request()
    )
    assert user_logged_in.pk == user.pk


@pytest.mark.parametrize("count", [0, 1, 3])
def test_a_counter_that_did_not_move_past_the_stored_one_is_refused(
    user, authenticator, make_passkey, audit_events, count
):
    passkey = make_passkey(user)
    _login(authenticator, sign_count=3)
    with pytest.raises(PasskeyNotValid):
        _login(authenticator, sign_count=count)
    assert Passkey.objects.get(pk=passkey.pk).sign_count == 3
    [failed] = _failures(audit_events)
    assert "sign count" in failed["reason"]


def test_a_passkey_without_a_counter_logs_in_again_and_again(user):
    authenticator = SoftAuthenticator(sign_counter=False, backup_eligible=True)
    passkey = passkey_add(authenticator, user)
    for _ in range(3):
        assert _login(authenticator).pk == user.pk
    used = Passkey.objects.get(pk=passkey.pk)
    assert (used.sign_count, used.backed_up) == (0, True)


def test_of_two_answers_with_one_count_verified_together_the_second_is_refused(
    user, authenticator, make_passkey
):
    make_passkey(user)
    # The second request read the passkey before the first wrote its new count.
    stale = Passkey.objects.get()
    assert _login(authenticator).pk == user.pk
    challenge, options = passkey_assertion_options(user_id=user.pk, request=site_request())
    answer = authenticator.authenticate(options, ORIGIN, sign_count=1)
    with pytest.raises(CeremonyRefused):
        _passkey_use(
            passkey=stale,
            credential=answer,
            challenge=challenge,
            rp=relying_party(request=site_request()),
        )
    assert Passkey.objects.get().sign_count == 1


def test_an_unknown_passkey_is_refused(user, authenticator, make_passkey, audit_events):
    passkey = make_passkey(user)
    passkey.delete()
    with pytest.raises(PasskeyNotValid):
        _login(authenticator)
    [failed] = _failures(audit_events)
    assert failed["user_id"] is None


@pytest.mark.parametrize("handle", [None, b"bob's"])
def test_a_login_whose_user_handle_is_not_the_passkeys_owner_is_refused(
    user, make_user, authenticator, make_passkey, handle
):
    alices = make_passkey(user)
    bobs = make_passkey(make_user("bob"))
    if handle is not None:
        handle = bytes(bobs.user_handle)
    with pytest.raises(PasskeyNotValid):
        _login(authenticator, credential_id=bytes(alices.credential_id), user_handle=handle)


def test_an_unknown_challenge_token_is_refused(user, authenticator, make_passkey):
    make_passkey(user)
    started = passkey_login_options(request=site_request())
    answer = authenticator.authenticate(started["options"], ORIGIN)
    with pytest.raises(PasskeyNotValid):
        passkey_login_check(challenge_token="made-up", credential=answer, request=site_request())


def test_a_registration_challenge_does_not_log_in(user, authenticator, make_passkey):
    make_passkey(user)
    options = _options(user)
    answer = authenticator.authenticate({**options, "rpId": RP_ID}, ORIGIN)
    with pytest.raises(PasskeyNotValid):
        passkey_login_check(
            challenge_token=f"register:{FAMILY}", credential=answer, request=site_request()
        )


def test_an_inactive_users_passkey_does_not_log_in(user, authenticator, make_passkey):
    make_passkey(user)
    user.is_active = False
    user.save()
    with pytest.raises(PasskeyNotValid):
        _login(authenticator)


def test_an_unverified_address_is_told_once_the_passkey_verified(
    user, authenticator, make_passkey, settings
):
    dualauth(settings, EMAIL_VERIFICATION="mandatory")
    make_passkey(user)
    Account.objects.filter(user_id=user.pk).update(email_verified=False)
    with pytest.raises(EmailNotVerified):
        _login(authenticator)
    dualauth(settings, EMAIL_VERIFICATION="optional")
    assert _login(authenticator).pk == user.pk


def test_failed_passkey_logins_count_against_the_address_like_wrong_passwords(
    user, authenticator, make_passkey, settings
):
    dualauth(settings, LOGIN_FAILURES_PER_ADDRESS=3)
    make_passkey(user)
    # A right answer is not a failure: it gives its count back.
    for _ in range(4):
        _login(authenticator)
    for _ in range(3):
        with pytest.raises(PasskeyNotValid):
            _login(authenticator, user_verified=False)
    with pytest.raises(Throttled):
        _login(authenticator)


# A passkey as the second factor of a password login.


def test_assertion_options_allow_only_the_users_passkeys(user, make_user, make_passkey):
    mine = make_passkey(user)
    make_passkey(make_user("bob"))
    challenge, options = passkey_assertion_options(user_id=user.pk, request=site_request())
    assert [b64url_decode(c["id"]) for c in options["allowCredentials"]] == [
        bytes(mine.credential_id)
    ]
    assert options["userVerification"] == "required"
    assert b64url_decode(options["challenge"]) == challenge


def _second_factor(authenticator: SoftAuthenticator, user: Any, **knobs: Any) -> bool:
    challenge, options = passkey_assertion_options(user_id=user.pk, request=site_request())
    origin = knobs.pop("origin", ORIGIN)
    answer = authenticator.authenticate(options, origin, **knobs)
    return passkey_assertion_verify(
        user_id=user.pk, credential=answer, challenge=challenge, request=site_request()
    )


def test_a_passkey_verifies_as_second_factor_and_its_use_is_recorded(
    user, authenticator, make_passkey
):
    passkey = make_passkey(user)
    assert _second_factor(authenticator, user) is True
    used = Passkey.objects.get(pk=passkey.pk)
    assert used.sign_count == 1
    assert used.last_used_at is not None


@pytest.mark.parametrize("knobs", [*SPOILED.values(), {"challenge": b64url(b"another")}])
def test_a_second_factor_answer_that_does_not_verify_is_false(
    user, authenticator, make_passkey, knobs
):
    make_passkey(user)
    assert _second_factor(authenticator, user, **knobs) is False
    assert Passkey.objects.get().last_used_at is None


def test_a_second_factor_whose_counter_went_back_is_false(user, authenticator, make_passkey):
    make_passkey(user)
    assert _second_factor(authenticator, user, sign_count=3) is True
    assert _second_factor(authenticator, user, sign_count=2) is False
    assert Passkey.objects.get().sign_count == 3


def test_another_users_passkey_is_no_second_factor(user, make_user, make_passkey):
    bob = make_user("bob")
    bobs_authenticator = SoftAuthenticator()
    passkey_add(bobs_authenticator, bob)
    make_passkey(user)
    challenge, _ = passkey_assertion_options(user_id=user.pk, request=site_request())
    _, bobs_options = passkey_assertion_options(user_id=bob.pk, request=site_request())
    answer = bobs_authenticator.authenticate(
        {**bobs_options, "challenge": b64url(challenge)}, ORIGIN
    )
    assert (
        passkey_assertion_verify(
            user_id=user.pk, credential=answer, challenge=challenge, request=site_request()
        )
        is False
    )


@pytest.mark.parametrize("credential", [None, "text", [], {}, {"id": 1}])
def test_a_malformed_second_factor_answer_is_false(user, make_passkey, credential):
    make_passkey(user)
    challenge, _ = passkey_assertion_options(user_id=user.pk, request=site_request())
    assert (
        passkey_assertion_verify(
            user_id=user.pk, credential=credential, challenge=challenge, request=site_request()
        )
        is False
    )


def test_the_relying_party_of_the_settings_is_the_one_passkeys_answer(
    user, authenticator, settings
):
    dualauth(settings, WEBAUTHN_RP_ID="example.com", WEBAUTHN_ORIGINS=["https://example.com"])
    options = _options(user)
    assert options["rp"]["id"] == "example.com"
    with pytest.raises(PasskeyNotValid):
        # The site's own origin is not one of the settings'.
        _register(user, authenticator.register(options, ORIGIN))
    passkey = _register(user, SoftAuthenticator().register(_options(user), "https://example.com"))
    assert passkey.user_id == user.pk
