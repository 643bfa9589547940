"""The mfa app takes from common the authenticator apps, recovery codes, passkeys and pending
challenges: in the migrations' state only, the tables stay as they are.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# The models this app takes from common, by their lower-case names.
MODELS = (
    "mfachallenge",
    "passkey",
    "recoverycode",
    "totpdevice",
)


def content_types_take(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Give the models' content types this app's label: their permissions follow them."""
    content_types_move(apps, source="common", target="dualauth_mfa")


def content_types_give_back(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Give the models' content types back to common."""
    content_types_move(apps, source="dualauth_mfa", target="common")


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
                    name="MfaChallenge",
                    fields=[
                        (
                            "digest",
                            models.CharField(max_length=64, primary_key=True, serialize=False),
                        ),
                        (
                            "purpose",
                            models.CharField(
                                choices=[
                                    ("login", "Login"),
                                    ("passkey-login", "Passkey Login"),
                                    ("passkey-register", "Passkey Register"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("mode", models.CharField(blank=True, max_length=16)),
                        ("options", models.JSONField(default=dict)),
                        (
                            "webauthn_challenge",
                            models.BinaryField(blank=True, max_length=64, null=True),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("expires_at", models.DateTimeField(db_index=True)),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "common_mfachallenge",
                    },
                ),
                migrations.CreateModel(
                    name="Passkey",
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
                        ("name", models.CharField(max_length=64)),
                        ("credential_id", models.BinaryField(max_length=1023, unique=True)),
                        ("public_key", models.BinaryField()),
                        ("sign_count", models.BigIntegerField(default=0)),
                        ("user_handle", models.BinaryField(max_length=64)),
                        ("transports", models.JSONField(default=list)),
                        ("backed_up", models.BooleanField(default=False)),
                        ("created_at", models.DateTimeField()),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="passkeys",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "common_passkey",
                    },
                ),
                migrations.CreateModel(
                    name="TotpDevice",
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
                        ("encrypted_secret", models.TextField()),
                        ("created_at", models.DateTimeField()),
                        ("confirmed_at", models.DateTimeField(blank=True, null=True)),
                        ("setup_family_id", models.UUIDField(blank=True, null=True)),
                        ("last_used_step", models.BigIntegerField(default=0)),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="totp_device",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "common_totpdevice",
                    },
                ),
                migrations.CreateModel(
                    name="RecoveryCode",
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
                        ("digest", models.CharField(max_length=64)),
                        ("created_at", models.DateTimeField()),
                        ("used_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="recovery_codes",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "common_recoverycode",
                        "indexes": [
                            models.Index(
                                fields=["user", "digest"], name="recovery_code_user_digest"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_take, content_types_give_back),
    ]
