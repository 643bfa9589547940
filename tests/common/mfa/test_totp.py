"""Authenticator apps: RFC 6238 codes within one step of the clock, secrets encrypted at rest."""

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from cryptography.fernet import Fernet

from common.conf import dualauth_settings
from common.exceptions import MfaNotConfigured
from common.mfa.totp import (
    totp_code_step,
    totp_provisioning,
    totp_secret_decrypt,
    totp_secret_encrypt,
    totp_secret_new,
)
from tests.common.mfa.conftest import STEP_SECONDS, dualauth

SECRET = pyotp.random_base32(32)
# A step boundary: the instant the step BOUNDARY_STEP begins.
BOUNDARY_STEP = 58_000_000
BOUNDARY = datetime.fromtimestamp(BOUNDARY_STEP * STEP_SECONDS, tz=UTC)


def _code_at(instant: datetime) -> str:
    """What an authenticator app shows at `instant`: pyotp's RFC 6238 defaults."""
    return pyotp.TOTP(SECRET).at(instant)


def _step(instant: datetime, code: str) -> int | None:
    return totp_code_step(secret=SECRET, code=code, now=instant.timestamp())


@pytest.mark.parametrize("seconds", [-1, 0, 1, -STEP_SECONDS, STEP_SECONDS - 1])
def test_the_code_of_the_current_step_is_accepted_at_any_instant_of_it(seconds):
    now = BOUNDARY + timedelta(seconds=seconds)
    assert _step(now, _code_at(now)) == int(now.timestamp()) // STEP_SECONDS


def test_one_step_of_drift_either_way_is_accepted_at_the_edges_of_a_step():
    # 1 s before the boundary, the app is one step ahead: the next step's code is accepted,
    # and so is the one two steps earlier than the boundary.
    before = BOUNDARY - timedelta(seconds=1)
    assert _step(before, _code_at(BOUNDARY)) == BOUNDARY_STEP
    assert _step(before, _code_at(BOUNDARY - timedelta(seconds=31))) == BOUNDARY_STEP - 2
    # 1 s after it, the step that ended a second ago still counts, and the next one too.
    after = BOUNDARY + timedelta(seconds=1)
    assert _step(after, _code_at(before)) == BOUNDARY_STEP - 1
    assert _step(after, _code_at(BOUNDARY + timedelta(seconds=30))) == BOUNDARY_STEP + 1


def test_two_steps_of_drift_are_refused_at_the_edges_of_a_step():
    before = BOUNDARY - timedelta(seconds=1)
    # At 1 s before the boundary, the step after next begins 31 s later: refused...
    assert _step(before, _code_at(BOUNDARY + timedelta(seconds=30))) is None
    # ...as is the step that ended 61 s ago.
    assert _step(before, _code_at(BOUNDARY - timedelta(seconds=61))) is None
    after = BOUNDARY + timedelta(seconds=1)
    # 1 s after the boundary, the step that ended 31 s ago is two steps back: refused.
    assert _step(after, _code_at(BOUNDARY - timedelta(seconds=31))) is None
    assert _step(after, _code_at(BOUNDARY + timedelta(seconds=60))) is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", "abcdef", "١٢٣٤٥٦", "-12345"])
def test_a_code_that_is_not_six_digits_has_no_step(code):
    assert _step(BOUNDARY, code) is None


def test_spaces_in_a_code_are_ignored():
    code = _code_at(BOUNDARY)
    assert _step(BOUNDARY, f" {code[:3]} {code[3:]} ") == BOUNDARY_STEP


def test_a_code_of_another_secret_is_refused():
    other = pyotp.TOTP(pyotp.random_base32(32)).at(BOUNDARY)
    if other != _code_at(BOUNDARY):
        assert _step(BOUNDARY, other) is None


def test_a_new_secret_is_160_random_bits_in_base32():
    secrets = {totp_secret_new() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert len(secret) == 32
        assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_a_secret_is_encrypted_and_only_the_configured_keys_read_it(settings):
    encrypted = totp_secret_encrypt(SECRET)
    assert SECRET not in encrypted
    assert totp_secret_decrypt(encrypted) == SECRET
    assert Fernet(dualauth_settings.MFA_ENCRYPTION_KEYS[0]).decrypt(encrypted.encode()) == (
        SECRET.encode()
    )
    assert settings.SECRET_KEY not in dualauth_settings.MFA_ENCRYPTION_KEYS
    dualauth(settings, MFA_ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
    with pytest.raises(MfaNotConfigured):
        totp_secret_decrypt(encrypted)


def test_a_rotated_key_still_reads_what_the_old_one_encrypted(settings):
    old = dualauth_settings.MFA_ENCRYPTION_KEYS[0]
    encrypted = totp_secret_encrypt(SECRET)
    new = Fernet.generate_key().decode()
    dualauth(settings, MFA_ENCRYPTION_KEYS=[new, old])
    assert totp_secret_decrypt(encrypted) == SECRET
    # The first key encrypts from now on.
    assert Fernet(new).decrypt(totp_secret_encrypt(SECRET).encode()) == SECRET.encode()


@pytest.mark.parametrize("keys", [[], ["not a fernet key"]])
def test_without_a_usable_key_no_secret_is_kept(settings, keys):
    dualauth(settings, MFA_ENCRYPTION_KEYS=keys)
    with pytest.raises(MfaNotConfigured):
        totp_secret_encrypt(SECRET)


def test_the_provisioning_url_is_what_authenticator_apps_read(settings):
    dualauth(settings, TOTP_ISSUER="Example Corp")
    url, svg = totp_provisioning(secret=SECRET, account="alice@example.com")
    assert url.startswith("otpauth://totp/")
    parsed = pyotp.parse_uri(url)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == SECRET
    assert parsed.issuer == "Example Corp"
    assert parsed.name == "alice@example.com"
    assert (parsed.digits, parsed.interval, parsed.digest().name) == (6, 30, "sha1")
    assert parsed.at(BOUNDARY) == _code_at(BOUNDARY)
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
