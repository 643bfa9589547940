"""Every login family records the password it began under; live ones take the current one."""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from common.models import password_epoch


def live_families_take_the_current_password(
    apps: StateApps, schema_editor: BaseDatabaseSchemaEditor
) -> None:
    """Keep every live login alive across the upgrade: it began under today's password."""
    family_model = apps.get_model("common", "LoginFamily")
    families = family_model.objects.filter(revoked_at__isnull=True).select_related("user")
    for family in families.iterator():
        family.password_epoch = password_epoch(family.user.password)
        family.save(update_fields=["password_epoch"])


class Migration(migrations.Migration):
    dependencies = [
        ("common", "0003_cached_user"),
    ]

    operations = [
        migrations.AddField(
            model_name="loginfamily",
            name="password_epoch",
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.RunPython(live_families_take_the_current_password, migrations.RunPython.noop),
    ]
