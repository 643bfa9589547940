"""The data migrations: what existing rows become when the schema grows."""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from time_machine import TimeMachineFixture

from common.accounts.models import Account
from common.mfa.models import Passkey, RecoveryCode, TotpDevice
from common.mfa.totp import STEP_SECONDS, totp_secret_encrypt
from common.mfa.webauthn.services import passkey_login_check, passkey_login_options
from tests.common.mfa.conftest import mfa_begin, mfa_complete, site_request
from tests.common.mfa.webauthn.conftest import ORIGIN, RP_ID
from tests.conftest import PASSWORD
from tests.modes import ModeClient
from tests.webauthn import SoftAuthenticator, SoftCredential

BEFORE_ACCOUNTS = [("common", "0004_login_family_password_epoch")]
ACCOUNTS = [("common", "0005_accounts")]
# The last state before the features' apps took their models: common holds them all.
BEFORE_APPS = [("common", "0010_throttle_count")]
# Unapplying the apps' first migrations (and common's that follows them) leaves BEFORE_APPS.
APPS_UNAPPLIED: list[tuple[str, str | None]] = [("dualauth_accounts", None), ("dualauth_mfa", None)]
MOVED = {
    "dualauth_accounts": ("account", "signinchange"),
    "dualauth_mfa": ("totpdevice", "recoverycode", "passkey", "mfachallenge"),
}
RECOVERY_CODE = "abcd2345efgh6789jkmn2345pqrs"


def _migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    """Migrate the test database to `targets`; the executor, its graph reloaded."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor


@pytest.mark.django_db(transaction=True)
def test_the_accounts_migration_verifies_every_user_and_dates_every_login():
    try:
        old = _migrate(BEFORE_ACCOUNTS).loader.project_state(BEFORE_ACCOUNTS).apps
        user_model = old.get_model(settings.AUTH_USER_MODEL)
        family_model = old.get_model("common", "LoginFamily")
        users = [
            user_model.objects.create(username=name, email=email, password="!")
            for name, email in [
                ("ann", "Ann@Example.com"),
                ("bob", "bob@example.com"),
                ("ann2", "ann@example.COM"),
                ("Bob", "bobby@example.com"),
                ("nomail", ""),
            ]
        ]
        now = timezone.now()
        families = {
            family_model.objects.create(
                user_id=user.pk,
                mode="session",
                created_at=now - timedelta(hours=i + 1),
                last_seen_at=now,
                expires_at=now + timedelta(days=1),
            ).pk: now - timedelta(hours=i + 1)
            for i, user in enumerate(users[:3])
        }

        new = _migrate(ACCOUNTS).loader.project_state(ACCOUNTS).apps
        accounts = {
            account.user_id: account for account in new.get_model("common", "Account").objects.all()
        }
        assert set(accounts) == {user.pk for user in users}
        assert all(account.email_verified for account in accounts.values())
        ann, bob, ann2, bob2, nomail = (accounts[user.pk] for user in users)
        assert (ann.email_key, ann2.email_key) == ("ann@example.com", None)
        assert (bob.username_key, bob2.username_key) == ("bob", None)
        assert (bob.email_key, bob2.email_key) == ("bob@example.com", "bobby@example.com")
        assert (nomail.username_key, nomail.email_key) == ("nomail", None)
        migrated = new.get_model("common", "LoginFamily").objects.all()
        assert {f.pk: f.authenticated_at for f in migrated} == families
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def _old_user(old: Any, username: str) -> Any:
    """A user of the state before the move, with an account, an app, a recovery code, a passkey
    (whose credential the returned authenticator holds) and a permission on TOTP devices.
    """
    user = old.get_model(settings.AUTH_USER_MODEL).objects.create(
        username=username, email=f"{username}@example.com", password=make_password(PASSWORD)
    )
    now = timezone.now()
    old.get_model("common", "Account").objects.create(
        user_id=user.pk,
        username_key=username,
        email_key=f"{username}@example.com",
        email_verified=True,
    )
    secret = pyotp.random_base32()
    old.get_model("common", "TotpDevice").objects.create(
        user_id=user.pk,
        encrypted_secret=totp_secret_encrypt(secret),
        created_at=now,
        confirmed_at=now,
    )
    old.get_model("common", "RecoveryCode").objects.create(
        user_id=user.pk, digest=hashlib.sha256(RECOVERY_CODE.encode()).hexdigest(), created_at=now
    )
    credential = SoftCredential(
        credential_id=secrets.token_bytes(32),
        private_key=ec.generate_private_key(ec.SECP256R1()),
        rp_id=RP_ID,
        user_handle=secrets.token_bytes(32),
    )
    old.get_model("common", "Passkey").objects.create(
        user_id=user.pk,
        name="laptop",
        credential_id=credential.credential_id,
        public_key=credential.cose_public_key(),
        user_handle=credential.user_handle,
        created_at=now,
    )
    permission = old.get_model("auth", "Permission").objects.get(
        content_type__app_label="common", codename="change_totpdevice"
    )
    user.user_permissions.add(permission)
    return user, secret, credential


@pytest.mark.django_db(transaction=True)
def test_the_features_apps_take_their_rows_and_permissions_and_their_users_still_sign_in(
    settings: Any, time_machine: TimeMachineFixture
) -> None:
    settings.DUALAUTH = {
        **settings.DUALAUTH,
        "MFA_ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    # Clear of a time step's edges: the code read below is the step's the server checks.
    start = (int(timezone.now().timestamp()) // STEP_SECONDS + 1) * STEP_SECONDS + 10
    time_machine.move_to(datetime.fromtimestamp(start, tz=UTC), tick=False)
    try:
        old = _migrate(APPS_UNAPPLIED).loader.project_state(BEFORE_APPS).apps
        content_type = old.get_model("contenttypes", "ContentType")
        before = {
            content_type.objects.get(app_label="common", model=model).pk: label
            for label, models in MOVED.items()
            for model in models
        }
        ann, ann_secret, ann_passkey = _old_user(old, "ann")
        bob, _, bob_passkey = _old_user(old, "bob")

        executor = MigrationExecutor(connection)
        _migrate(executor.loader.graph.leaf_nodes())

        for pk, label in before.items():
            assert content_type.objects.get(pk=pk).app_label == label
        assert not content_type.objects.filter(app_label="common", model__in=MOVED["dualauth_mfa"])
        users = get_user_model().objects.filter(pk__in=[ann.pk, bob.pk])
        assert all(user.has_perm("dualauth_mfa.change_totpdevice") for user in users)
        assert (
            Account.objects.filter(user_id__in=[ann.pk, bob.pk], email_verified=True).count() == 2
        )
        assert TotpDevice.objects.filter(user_id__in=[ann.pk, bob.pk]).count() == 2
        assert RecoveryCode.objects.filter(user_id__in=[ann.pk, bob.pk]).count() == 2
        assert Passkey.objects.filter(user_id__in=[ann.pk, bob.pk]).count() == 2

        # Ann: password, then the code of her app, whose secret decrypts as it was stored.
        client = ModeClient("session")
        token = mfa_begin(client, "ann")
        response = mfa_complete(client, token, pyotp.TOTP(ann_secret).now())
        assert response.status_code == 200, response.content
        assert response.json()["username"] == "ann"
        # Bob: password, then his recovery code.
        client = ModeClient("jwt-header")
        response = mfa_complete(client, mfa_begin(client, "bob"), RECOVERY_CODE)
        assert response.status_code == 200, response.content
        # Each: a passwordless login with the passkey kept before the move.
        for user, credential in ((ann, ann_passkey), (bob, bob_passkey)):
            authenticator = SoftAuthenticator()
            authenticator.credentials[credential.credential_id] = credential
            started = passkey_login_options(request=site_request())
            answer = authenticator.authenticate(started["options"], ORIGIN)
            signed_in = passkey_login_check(
                challenge_token=started["challenge_token"],
                credential=answer,
                request=site_request(),
            )
            assert signed_in.pk == user.pk
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
