"""The data migrations: what existing rows become when the schema grows."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE_ACCOUNTS = [("common", "0004_login_family_password_epoch")]
ACCOUNTS = [("common", "0005_accounts")]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
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
