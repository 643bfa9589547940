"""Second-factor services: codes work once, recovery codes kept hashed, challenges taken once."""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Model
from django.utils import timezone
from rest_framework.exceptions import Throttled, ValidationError

from common.conf import dualauth_settings
from common.exceptions import MfaCodeNotValid
from common.mfa.challenges import challenge_get, challenge_issue, challenge_take
from common.mfa.models import MfaChallenge, Passkey, RecoveryCode, TotpDevice
from common.mfa.selectors import mfa_factors, mfa_methods, recovery_codes_left
from common.mfa.services import (
    RECOVERY_ALPHABET,
    RECOVERY_GROUP_LENGTH,
    RECOVERY_GROUPS,
    _totp_step_use,
    mfa_code_confirm,
    mfa_code_use,
    mfa_factor_removed,
    recovery_codes_generate,
    totp_disable,
    totp_enable,
    totp_setup_get,
)
from tests.common.mfa.conftest import STEP, Authenticator, dualauth, site_request, step_now
from tests.conftest import as_json

pytestmark = pytest.mark.django_db
LOGIN = MfaChallenge.Purpose.LOGIN
# The login that sets an app up.
FAMILY = uuid.uuid4()
# A recovery code: groups of characters that cannot be misread (no 0/o, 1/l/i), dashed.
RECOVERY_CODE = re.compile(
    rf"^[{RECOVERY_ALPHABET}]{{{RECOVERY_GROUP_LENGTH}}}"
    rf"(-[{RECOVERY_ALPHABET}]{{{RECOVERY_GROUP_LENGTH}}}){{{RECOVERY_GROUPS - 1}}}$"
)


def _table(model: type[Model]) -> str:
    """Every row of `model`'s table, every column, as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {model._meta.db_table}")
        return repr(cursor.fetchall())


def _forms(code: str) -> list[str]:
    """A recovery code as it might be stored in clear: as shown, folded, in capitals."""
    bare = code.replace("-", "")
    return [code, bare, code.upper(), bare.upper()]


def _passkey(user) -> Passkey:
    """A passkey row: the selectors count them, whatever their key."""
    return Passkey.objects.create(
        user=user,
        name="Laptop",
        credential_id=b"credential-" + str(user.pk).encode(),
        public_key=b"key",
        user_handle=b"h" * 32,
        created_at=timezone.now(),
    )


# TOTP.


def test_setting_up_makes_one_pending_secret_and_shows_it_until_enabled(user, clock):
    first = totp_setup_get(user_id=user.pk, family_id=FAMILY)
    assert first["enabled"] is False
    assert totp_setup_get(user_id=user.pk, family_id=FAMILY) == first
    device = TotpDevice.objects.get(user=user)
    assert device.confirmed_at is None
    assert first["secret"] not in _table(TotpDevice)
    app = Authenticator(str(first["secret"]))
    totp_enable(user_id=user.pk, family_id=FAMILY, code=app.code(), request=site_request())
    assert totp_setup_get(user_id=user.pk, family_id=FAMILY) == {"enabled": True}


def test_a_secret_is_enabled_only_by_the_login_it_was_shown_to(user, clock):
    other = uuid.uuid4()
    shown = str(totp_setup_get(user_id=user.pk, family_id=FAMILY)["secret"])
    # Another login asking gets another secret: the first is worth nothing now.
    replaced = str(totp_setup_get(user_id=user.pk, family_id=other)["secret"])
    assert replaced != shown
    for family_id, secret in [(FAMILY, shown), (FAMILY, replaced), (other, shown)]:
        code = Authenticator(secret).code()
        with pytest.raises((ValidationError, MfaCodeNotValid)):
            totp_enable(user_id=user.pk, family_id=family_id, code=code, request=site_request())
    assert TotpDevice.objects.get(user=user).confirmed_at is None
    assert totp_setup_get(user_id=user.pk, family_id=other)["secret"] == replaced
    code = Authenticator(replaced).code()
    totp_enable(user_id=user.pk, family_id=other, code=code, request=site_request())
    assert TotpDevice.objects.get(user=user).confirmed_at is not None


def test_a_wrong_first_code_enables_nothing(user, clock):
    secret = str(totp_setup_get(user_id=user.pk, family_id=FAMILY)["secret"])
    wrong = Authenticator(secret).code(5)
    with pytest.raises(MfaCodeNotValid):
        totp_enable(user_id=user.pk, family_id=FAMILY, code=wrong, request=site_request())
    assert TotpDevice.objects.get(user=user).confirmed_at is None
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert mfa_methods(user_id=user.pk) == []


def test_an_enabled_app_is_not_enabled_again(user, alice):
    assert totp_setup_get(user_id=user.pk, family_id=FAMILY) == {"enabled": True}
    with pytest.raises(ValidationError):
        totp_enable(
            user_id=user.pk, family_id=FAMILY, code=alice.app.code(), request=site_request()
        )
    assert TotpDevice.objects.get(user=user).last_used_step < step_now()


def test_enabling_without_a_secret_shown_is_refused(make_user, clock):
    bob = make_user("bob")
    with pytest.raises(ValidationError):
        totp_enable(user_id=bob.pk, family_id=FAMILY, code="123456", request=site_request())
    assert not TotpDevice.objects.filter(user=bob).exists()


def test_a_code_is_accepted_once_even_inside_its_window(alice, clock):
    code = alice.app.code()
    request = site_request()
    assert mfa_code_use(user=alice.user, code=code, request=request) == "totp"
    assert mfa_code_use(user=alice.user, code=code, request=request) is None
    clock.shift(timedelta(seconds=5))
    assert mfa_code_use(user=alice.user, code=code, request=request) is None


def test_a_code_of_a_step_before_one_used_is_refused(alice):
    request = site_request()
    assert mfa_code_use(user=alice.user, code=alice.app.code(1), request=request) == "totp"
    assert mfa_code_use(user=alice.user, code=alice.app.code(0), request=request) is None
    assert mfa_code_use(user=alice.user, code=alice.app.code(-1), request=request) is None
    assert TotpDevice.objects.get(user=alice.user).last_used_step == step_now() + 1


def test_of_two_uses_of_one_code_read_before_either_only_one_succeeds(alice):
    # Both requests read the device before either wrote it: the write decides.
    device = TotpDevice.objects.get(user=alice.user)
    stale = TotpDevice.objects.get(user=alice.user)
    code = alice.app.code()
    assert _totp_step_use(device=device, code=code) is True
    assert _totp_step_use(device=stale, code=code) is False


def test_a_pending_app_completes_no_login(user, clock):
    secret = str(totp_setup_get(user_id=user.pk, family_id=FAMILY)["secret"])
    code = Authenticator(secret).code()
    assert mfa_code_use(user=user, code=code, request=site_request()) is None
    assert mfa_methods(user_id=user.pk) == []


def test_the_codes_of_one_user_do_not_work_for_another(alice, make_user, enable_totp):
    bob = enable_totp(make_user("bob"))
    request = site_request()
    if alice.app.code() != bob.app.code():
        assert mfa_code_use(user=bob.user, code=alice.app.code(), request=request) is None
    assert mfa_code_use(user=bob.user, code=alice.recovery_codes[0], request=request) is None
    assert recovery_codes_left(user_id=alice.user.pk) == dualauth_settings.RECOVERY_CODE_COUNT


def test_a_wrong_code_counts_as_a_failed_login(alice, audit_events):
    request = site_request()
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        with pytest.raises(MfaCodeNotValid):
            mfa_code_confirm(user=alice.user, code="000000", request=request)
    with pytest.raises(Throttled):
        mfa_code_confirm(user=alice.user, code=alice.app.code(), request=request)
    assert [e["event"] for e in audit_events()].count("mfa_failed") == (
        dualauth_settings.LOGIN_FAILURES_PER_USERNAME
    )


def test_a_right_code_does_not_count_as_a_failed_login(alice, clock):
    request = site_request()
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME + 1):
        assert mfa_code_confirm(user=alice.user, code=alice.app.code(), request=request) == "totp"
        clock.shift(STEP)


# Recovery codes.


def test_enabling_gives_the_configured_number_of_distinct_readable_codes(settings, user, clock):
    dualauth(settings, RECOVERY_CODE_COUNT=dualauth_settings.RECOVERY_CODE_COUNT + 2)
    secret = str(totp_setup_get(user_id=user.pk, family_id=FAMILY)["secret"])
    codes = totp_enable(
        user_id=user.pk, family_id=FAMILY, code=Authenticator(secret).code(), request=site_request()
    )
    assert len(codes) == len(set(codes)) == dualauth_settings.RECOVERY_CODE_COUNT
    assert all(RECOVERY_CODE.match(code) for code in codes), codes
    assert not set("01ilo") & set(RECOVERY_ALPHABET)
    # Enough random bits that no one can try them all.
    assert len(RECOVERY_ALPHABET) ** (RECOVERY_GROUPS * RECOVERY_GROUP_LENGTH) >= 2**80
    assert recovery_codes_left(user_id=user.pk) == dualauth_settings.RECOVERY_CODE_COUNT


def test_recovery_codes_are_stored_hashed(alice):
    assert RecoveryCode.objects.filter(user=alice.user).count() == len(alice.recovery_codes)
    dump = _table(RecoveryCode)
    for code in alice.recovery_codes:
        for form in _forms(code):
            assert form not in dump
            assert form.encode().hex() not in dump


def test_a_recovery_code_works_once(alice, mails):
    request = site_request()
    code = alice.recovery_codes[0]
    assert mfa_code_use(user=alice.user, code=code, request=request) == "recovery_code"
    assert mfa_code_use(user=alice.user, code=code, request=request) is None
    assert recovery_codes_left(user_id=alice.user.pk) == len(alice.recovery_codes) - 1


@pytest.mark.parametrize(
    "form",
    [str.upper, lambda c: c.replace("-", ""), lambda c: c.replace("-", " "), lambda c: f" {c} "],
)
def test_a_recovery_code_is_read_in_any_case_and_grouping(alice, mails, form):
    code = alice.recovery_codes[3]
    assert mfa_code_use(user=alice.user, code=form(code), request=site_request()) == (
        "recovery_code"
    )
    assert mfa_code_use(user=alice.user, code=code, request=site_request()) is None


def test_using_a_recovery_code_is_audited_and_mailed_with_how_many_remain(
    alice, audit_events, mails
):
    mfa_code_use(user=alice.user, code=alice.recovery_codes[1], request=site_request())
    remaining = len(alice.recovery_codes) - 1
    [event] = [e for e in audit_events() if e["event"] == "recovery_code_used"]
    assert event["user_id"] == as_json(alice.user.pk)
    assert event["remaining"] == remaining
    [message] = mails(alice.user.email)
    assert "recovery code" in message["Subject"].lower()
    assert f"{remaining} of your recovery codes" in message.get_body(("plain",)).get_content()


def test_regenerating_kills_the_old_set(alice):
    new = recovery_codes_generate(user_id=alice.user.pk, request=site_request())
    assert len(new) == dualauth_settings.RECOVERY_CODE_COUNT
    assert not set(new) & set(alice.recovery_codes)
    for code in alice.recovery_codes:
        assert mfa_code_use(user=alice.user, code=code, request=site_request()) is None
    assert mfa_code_use(user=alice.user, code=new[0], request=site_request()) == "recovery_code"


def test_recovery_codes_need_a_factor(user, mails):
    with pytest.raises(ValidationError):
        recovery_codes_generate(user_id=user.pk, request=site_request())
    assert not RecoveryCode.objects.filter(user=user).exists()


def test_recovery_codes_alone_are_no_way_in(alice):
    TotpDevice.objects.filter(user=alice.user).delete()
    assert mfa_methods(user_id=alice.user.pk) == []


# Removing factors.


def test_disabling_the_last_factor_removes_the_codes_audits_and_mails(alice, audit_events, mails):
    totp_disable(user_id=alice.user.pk, request=site_request())
    assert not TotpDevice.objects.filter(user=alice.user).exists()
    assert not RecoveryCode.objects.filter(user=alice.user).exists()
    events = [e["event"] for e in audit_events()]
    assert "totp_disabled" in events
    assert "mfa_disabled" in events
    [message] = mails(alice.user.email)
    assert message["Subject"] == "The authenticator app of your account was removed"
    assert "your password alone now signs you in" in message.get_body(("plain",)).get_content()
    assert mfa_factors(user_id=alice.user.pk) == {
        "totp": False,
        "passkeys": 0,
        "recovery_codes_left": 0,
    }


def test_disabling_an_app_while_a_passkey_remains_keeps_the_codes(alice, mails):
    _passkey(alice.user)
    totp_disable(user_id=alice.user.pk, request=site_request())
    assert recovery_codes_left(user_id=alice.user.pk) == len(alice.recovery_codes)
    [message] = mails(alice.user.email)
    assert "password alone" not in message.get_body(("plain",)).get_content()
    assert mfa_methods(user_id=alice.user.pk) == ["recovery_code", "webauthn"]


def test_a_factor_removed_while_another_remains_changes_nothing(alice, mails):
    mfa_factor_removed(user_id=alice.user.pk, request=site_request())
    assert recovery_codes_left(user_id=alice.user.pk) == len(alice.recovery_codes)
    assert mails() == []


def test_removing_an_app_being_set_up_is_silent(user, audit_events, mails, clock):
    totp_setup_get(user_id=user.pk, family_id=FAMILY)
    totp_disable(user_id=user.pk, request=site_request())
    assert not TotpDevice.objects.filter(user=user).exists()
    assert mails() == []
    assert "totp_disabled" not in [e["event"] for e in audit_events()]


# Challenges.


def test_a_challenge_is_stored_as_a_digest_and_taken_once(user):
    token = challenge_issue(purpose=LOGIN, lifetime=timedelta(minutes=1), user_id=user.pk)
    assert len(token) >= 43
    assert token not in _table(MfaChallenge)
    assert challenge_get(purpose=LOGIN, token=token) is not None
    taken = challenge_take(purpose=LOGIN, token=token)
    assert taken is not None
    assert taken.user_id == user.pk
    assert challenge_take(purpose=LOGIN, token=token) is None
    assert not MfaChallenge.objects.exists()


def test_of_two_takes_read_before_either_only_one_gets_the_challenge(user):
    token = challenge_issue(purpose=LOGIN, lifetime=timedelta(minutes=1), user_id=user.pk)
    # Both read the row; only the delete that removed it counts.
    assert challenge_get(purpose=LOGIN, token=token) is not None
    assert challenge_take(purpose=LOGIN, token=token) is not None
    assert challenge_take(purpose=LOGIN, token=token) is None


def test_a_challenge_of_another_purpose_or_expired_is_none(user, clock):
    lifetime = timedelta(minutes=1)
    token = challenge_issue(purpose=LOGIN, lifetime=lifetime, user_id=user.pk)
    assert challenge_take(purpose=MfaChallenge.Purpose.PASSKEY_LOGIN, token=token) is None
    clock.shift(lifetime - timedelta(seconds=1))
    assert challenge_get(purpose=LOGIN, token=token) is not None
    clock.shift(timedelta(seconds=1))
    assert challenge_take(purpose=LOGIN, token=token) is None


def test_issuing_a_challenge_clears_the_expired_ones(user, clock):
    lifetime = timedelta(minutes=1)
    challenge_issue(purpose=LOGIN, lifetime=lifetime, user_id=user.pk)
    clock.shift(lifetime)
    challenge_issue(purpose=LOGIN, lifetime=lifetime, user_id=user.pk)
    assert MfaChallenge.objects.count() == 1
