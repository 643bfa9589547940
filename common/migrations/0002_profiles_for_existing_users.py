"""Give every user that existed before dualauth a profile."""

from django.conf import settings
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def profiles_create(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Create the missing profiles."""
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    profile_model = apps.get_model("common", "Profile")
    missing = user_model.objects.filter(profile__isnull=True).values_list("pk", flat=True)
    profile_model.objects.bulk_create([profile_model(user_id=pk) for pk in missing])


class Migration(migrations.Migration):
    dependencies = [("common", "0001_initial")]

    operations = [migrations.RunPython(profiles_create, migrations.RunPython.noop)]
