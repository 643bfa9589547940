"""The accounts app takes from common the account of each user and the sign-in changes mailed
to them: in the migrations' state only, the tables stay as they are.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# The models this app takes from common, by their lower-case names.
MODELS = (
    "account",
    "signinchange",
)


def content_types_take(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Give the models' content types this app's label: their permissions follow them."""
    content_types_move(apps, source="common", target="dualauth_accounts")


def content_types_give_back(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Give the models' content types back to common."""
    content_types_move(apps, source="dualauth_accounts", target="common")


def content_types_move(apps: StateApps, *, source: str, target: str) -> None:
    """Relabel the content types of MODELS from `source` to `target`, unless `target` has them."""
    content_type = apps.get_model("contenttypes", "ContentType")
    taken = content_type.objects.filter(app_label=target, model__in=MODELS).values("model")
    content_type.objects.filter(app_label=source, model__in=MODELS).exclude(model__in=taken).update(
        app_label=target
    )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        # The tables exist: common made them, and keeps their names (`db_table`).
        ("common", "0010_throttle_count"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Account",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "username_key",
                            models.CharField(blank=True, max_length=254, null=True, unique=True),
                        ),
                        (
                            "email_key",
                            models.CharField(blank=True, max_length=254, null=True, unique=True),
                        ),
                        ("email_verified", models.BooleanField(default=False)),
                        (
                            "signed_up_at",
                            models.DateTimeField(blank=True, db_index=True, null=True),
                        ),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="account",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "common_account",
                    },
                ),
                migrations.CreateModel(
                    name="SignInChange",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("change", models.CharField(max_length=32)),
                        ("reference", models.CharField(blank=True, max_length=254)),
                        ("digest", models.CharField(max_length=64, unique=True)),
                        ("created_at", models.DateTimeField()),
                        ("user_agent", models.CharField(blank=True, max_length=256)),
                        ("ip", models.GenericIPAddressField(blank=True, null=True)),
                        ("mailed_to", models.CharField(blank=True, max_length=254)),
                        ("undone_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="signin_changes",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "common_signinchange",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_take, content_types_give_back),
    ]
