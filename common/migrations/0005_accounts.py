"""Accounts: every user gets one, verified; every login records when it was last proven."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.db.models import F


def identity_key(value: str) -> str | None:
    """The folded form of a login name or email address, as the accounts keep it unique."""
    return value.strip().casefold() or None


def families_authenticated_when_they_began(
    apps: StateApps, schema_editor: BaseDatabaseSchemaEditor
) -> None:
    """A login made before this migration was last proven when it began."""
    apps.get_model("common", "LoginFamily").objects.update(authenticated_at=F("created_at"))


def existing_users_are_verified(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Give every existing user a verified account; of names or addresses equal but for case,
    the oldest account keeps it, and the others are left without (they receive no mail).
    """
    # The historical model has no USERNAME_FIELD; the field names come from the real one.
    model = get_user_model()
    fields = ("pk", model.USERNAME_FIELD, model.get_email_field_name())
    users = apps.get_model(settings.AUTH_USER_MODEL).objects.order_by("pk").values_list(*fields)
    account_model = apps.get_model("common", "Account")
    taken: dict[str, set[str]] = {"username_key": set(), "email_key": set()}
    accounts = []
    for pk, username, email in users.iterator():
        keys = {
            "username_key": identity_key(username or ""),
            "email_key": identity_key(email or ""),
        }
        for name, key in keys.items():
            if key in taken[name]:
                keys[name] = None
            elif key is not None:
                taken[name].add(key)
        accounts.append(account_model(user_id=pk, email_verified=True, **keys))
    account_model.objects.bulk_create(accounts, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("common", "0004_login_family_password_epoch"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="loginfamily",
            name="authenticated_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(families_authenticated_when_they_began, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="loginfamily",
            name="authenticated_at",
            field=models.DateTimeField(),
        ),
        migrations.CreateModel(
            name="Account",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "username_key",
                    models.CharField(blank=True, max_length=254, null=True, unique=True),
                ),
                ("email_key", models.CharField(blank=True, max_length=254, null=True, unique=True)),
                ("email_verified", models.BooleanField(default=False)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=models.deletion.CASCADE,
                        related_name="account",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.RunPython(existing_users_are_verified, migrations.RunPython.noop),
    ]
