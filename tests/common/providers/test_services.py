"""The providers' rules for accounts: nonces, sign-ups, `account_exists`, links, unlinks."""

import hashlib
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from prometheus_client import REGISTRY
from time_machine import TimeMachineFixture

from common.accounts.models import Account, SignInChange
from common.accounts.services import signin_change_undo
from common.changes import IDENTITY_LINKED
from common.conf import dualauth_settings
from common.factors import login_second_step_begin
from common.mfa.models import Passkey
from common.models import Profile
from common.providers.exceptions import (
    AccountExists,
    IdentityInUse,
    LastSignInMethod,
    ProviderEmailNotVerified,
    ProviderTokenNotValid,
)
from common.providers.models import ProviderIdentity
from common.providers.services import (
    identity_link,
    identity_unlink,
    nonce_issue,
    nonce_take,
    provider_login_check,
)
from common.routes import Mode
from tests.common.accounts.conftest import dualauth
from tests.common.accounts.conftest import mails as mails  # fixture
from tests.common.mfa.conftest import clock as clock  # fixture
from tests.common.mfa.conftest import totp_enabled_for
from tests.common.providers.conftest import PROVIDER
from tests.mail import link_of
from tests.oidc import OidcProvider

pytestmark = pytest.mark.django_db
User = get_user_model()


def sign_in(op: OidcProvider, request: Any, mode: Mode = "jwt-header", **claims: Any) -> Any:
    """Sign in through the provider with a fresh nonce and a token carrying `claims`."""
    nonce = nonce_issue()
    return provider_login_check(
        provider_id=PROVIDER,
        id_token=op.id_token(nonce=nonce, **claims),
        nonce=nonce,
        request=request,
        mode=mode,
    )


def link(op: OidcProvider, user: Any, request: Any, **claims: Any) -> ProviderIdentity:
    nonce = nonce_issue()
    return identity_link(
        user_id=user.pk,
        provider_id=PROVIDER,
        id_token=op.id_token(nonce=nonce, **claims),
        nonce=nonce,
        request=request,
    )


def test_a_nonce_is_single_use_and_must_match(provider, rf_request):
    nonce = nonce_issue()
    token = provider.id_token(nonce=nonce)
    with pytest.raises(ProviderTokenNotValid):
        provider_login_check(
            provider_id=PROVIDER,
            id_token=token,
            nonce="unknown",
            request=rf_request,
            mode="session",
        )
    signed_in = provider_login_check(
        provider_id=PROVIDER, id_token=token, nonce=nonce, request=rf_request, mode="session"
    )
    assert signed_in.user.email == "alice@example.com"
    # The same token and nonce again: the nonce is used.
    with pytest.raises(ProviderTokenNotValid):
        provider_login_check(
            provider_id=PROVIDER, id_token=token, nonce=nonce, request=rf_request, mode="session"
        )
    # A live nonce that the token does not carry is burnt by the failed attempt.
    other = nonce_issue()
    with pytest.raises(ProviderTokenNotValid):
        provider_login_check(
            provider_id=PROVIDER, id_token=token, nonce=other, request=rf_request, mode="session"
        )
    assert not nonce_take(nonce=other)


def test_a_nonce_hashed_by_the_sdk_is_accepted(provider, rf_request):
    nonce = nonce_issue()
    hashed = hashlib.sha256(nonce.encode()).hexdigest()
    signed_in = provider_login_check(
        provider_id=PROVIDER,
        id_token=provider.id_token(nonce=hashed),
        nonce=nonce,
        request=rf_request,
        mode="jwt-header",
    )
    assert signed_in.identity.subject == "subject-1"


def test_an_expired_nonce_is_refused(provider, rf_request, time_machine: TimeMachineFixture):
    time_machine.move_to(time.time(), tick=False)
    nonce = nonce_issue()
    time_machine.shift(dualauth_settings.PROVIDER_NONCE_LIFETIME.total_seconds() + 1)
    with pytest.raises(ProviderTokenNotValid):
        provider_login_check(
            provider_id=PROVIDER,
            id_token=provider.id_token(nonce=nonce),
            nonce=nonce,
            request=rf_request,
            mode="session",
        )


def test_an_unknown_identity_with_a_verified_unused_address_creates_a_verified_account(
    provider, rf_request
):
    signed_in = sign_in(provider, rf_request, email="new@example.com", name="New Person")
    user = signed_in.user
    assert user.email == "new@example.com"
    assert not user.has_usable_password()
    assert Account.objects.get(user=user).email_verified
    assert Profile.objects.get(user=user).display_name == "New Person"
    identity = ProviderIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (provider.issuer, "subject-1")
    # The next sign-in finds the same account.
    assert sign_in(provider, rf_request, email="new@example.com").user.pk == user.pk


def test_an_unverified_provider_address_creates_nothing(provider, rf_request):
    for claims in [{"email_verified": False}, {"email_verified": "false"}, {"email": None}]:
        with pytest.raises(ProviderEmailNotVerified):
            sign_in(
                provider,
                rf_request,
                email_verified=claims.get("email_verified", True),
                **{k: v for k, v in claims.items() if k != "email_verified"},
            )
    assert not User.objects.exists()
    assert not ProviderIdentity.objects.exists()


def test_an_address_of_an_existing_account_is_account_exists_and_creates_nothing(
    provider, rf_request, user
):
    users = User.objects.count()
    with pytest.raises(AccountExists):
        sign_in(provider, rf_request, email=user.email.upper())
    assert User.objects.count() == users
    assert not ProviderIdentity.objects.exists()


def test_auto_link_needs_the_setting_and_both_sides_verified(provider, rf_request, user, settings):
    dualauth(settings, PROVIDER_AUTO_LINK=True)
    Account.objects.filter(user=user).update(email_verified=False)
    with pytest.raises(AccountExists):
        sign_in(provider, rf_request)
    Account.objects.filter(user=user).update(email_verified=True)
    with pytest.raises(ProviderEmailNotVerified):
        sign_in(provider, rf_request, email_verified="false")
    assert not ProviderIdentity.objects.exists()
    assert sign_in(provider, rf_request).user.pk == user.pk
    assert ProviderIdentity.objects.get().user_id == user.pk


def test_the_identity_is_issuer_and_subject_not_the_email(provider, rf_request, make_user):
    first = sign_in(provider, rf_request, sub="one", email="one@example.com").user
    # The same subject with another address is the same account.
    assert sign_in(provider, rf_request, sub="one", email="two@example.com").user.pk == first.pk
    # Another subject with the first address is not: that address has an account.
    with pytest.raises(AccountExists):
        sign_in(provider, rf_request, sub="two", email="one@example.com")


def test_linking_an_identity_of_another_account_is_identity_in_use(provider, rf_request, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    link(provider, alice, rf_request, sub="shared")
    with pytest.raises(IdentityInUse):
        link(provider, bob, rf_request, sub="shared")
    assert ProviderIdentity.objects.get().user_id == alice.pk


def test_unlinking_the_last_sign_in_method_is_refused(provider, rf_request, make_user):
    signed_in = sign_in(provider, rf_request, sub="only", email="only@example.com")
    user, identity = signed_in.user, signed_in.identity
    with pytest.raises(LastSignInMethod):
        identity_unlink(user_id=user.pk, identity_id=identity.pk, request=rf_request)
    # A second identity, a passkey or a password each makes it removable.
    second = link(provider, user, rf_request, sub="second")
    identity_unlink(user_id=user.pk, identity_id=identity.pk, request=rf_request)
    with pytest.raises(LastSignInMethod):
        identity_unlink(user_id=user.pk, identity_id=second.pk, request=rf_request)
    Passkey.objects.create(
        user=user,
        name="key",
        credential_id=b"id",
        public_key=b"pk",
        user_handle=b"h",
        created_at=identity.linked_at,
    )
    identity_unlink(user_id=user.pk, identity_id=second.pk, request=rf_request)
    assert not ProviderIdentity.objects.exists()


def test_a_user_with_a_password_may_unlink_their_only_identity(provider, rf_request, user):
    identity = link(provider, user, rf_request)
    identity_unlink(user_id=user.pk, identity_id=identity.pk, request=rf_request)
    assert not ProviderIdentity.objects.exists()


def test_linking_is_a_sign_in_change_with_an_undo_that_unlinks(provider, rf_request, user, mails):
    identity = link(provider, user, rf_request)
    change = SignInChange.objects.get(user=user, change=IDENTITY_LINKED)
    assert change.reference == str(identity.pk)
    [notice] = [m for m in mails(user.email) if "#action=undo" in m.get_body().get_content()]
    [key] = parse_qs(urlsplit(link_of(notice)).fragment)["key"]
    assert re.match(r"^[\w-]+$", key)
    assert signin_change_undo(key=key, request=rf_request) == IDENTITY_LINKED
    assert not ProviderIdentity.objects.exists()


def test_a_user_with_a_second_factor_is_asked_for_it_unless_the_providers_mfa_suffices(
    provider, rf_request, user, settings, clock
):
    dualauth(settings, MFA_ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
    totp_enabled_for(user, clock)
    link(provider, user, rf_request)
    signed_in = sign_in(provider, rf_request, amr=["pwd", "mfa"])
    assert not signed_in.second_factor
    pending = login_second_step_begin(
        user=signed_in.user, mode="jwt-header", request=rf_request, options={}
    )
    assert pending is not None
    assert pending["code"] == "mfa_required"
    dualauth(settings, PROVIDER_MFA_TRUSTED=[PROVIDER])
    assert not sign_in(provider, rf_request, amr=["pwd"]).second_factor
    assert sign_in(provider, rf_request, amr=["pwd", "mfa"]).second_factor


def test_every_provider_event_is_audited_without_a_token(
    provider, rf_request, user, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="dualauth.audit")
    nonce = nonce_issue()
    token = provider.id_token(nonce=nonce)
    with pytest.raises(AccountExists):
        provider_login_check(
            provider_id=PROVIDER, id_token=token, nonce=nonce, request=rf_request, mode="session"
        )
    with pytest.raises(ProviderTokenNotValid):
        provider_login_check(
            provider_id=PROVIDER, id_token=token, nonce=nonce, request=rf_request, mode="session"
        )
    identity = link(provider, user, rf_request)
    sign_in(provider, rf_request)
    identity_unlink(user_id=user.pk, identity_id=identity.pk, request=rf_request)
    sign_in(provider, rf_request, sub="new", email="new@example.com")
    events = [getattr(record, "event", None) for record in caplog.records]
    for event in [
        "provider_account_exists",
        "provider_login_failed",
        "provider_linked",
        "provider_login",
        "provider_unlinked",
        "provider_signup",
    ]:
        assert event in events
    text = caplog.text + "".join(str(vars(record)) for record in caplog.records)
    assert token not in text
    assert nonce not in text


def test_provider_events_are_counted_by_provider_and_outcome(provider, rf_request):
    def count(outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "dualauth_provider_events_total", {"provider": PROVIDER, "outcome": outcome}
        )
        return value or 0.0

    signups, logins, failures = count("signup"), count("ok"), count("failed")
    sign_in(provider, rf_request, sub="counted", email="counted@example.com")
    with pytest.raises(ProviderTokenNotValid):
        sign_in(provider, rf_request, aud="another")
    assert (count("signup"), count("ok"), count("failed")) == (
        signups + 1,
        logins + 1,
        failures + 1,
    )
