"""Sessions stored before dualauth hashed their keys move under the hash, still logged in."""

from django.conf import settings
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.core.cache import caches
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from session_auth.sessions import session_key_stored


def session_keys_hash(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Store each raw session key as its hash, and drop the cache entry named by the raw key."""
    session_model = apps.get_model("sessions", "Session")
    cache = caches[settings.SESSION_CACHE_ALIAS]
    for session in session_model.objects.exclude(session_key__regex=r"^[0-9a-f]{40}$").iterator():
        raw = session.session_key
        session_model.objects.create(
            session_key=session_key_stored(raw),
            session_data=session.session_data,
            expire_date=session.expire_date,
        )
        session_model.objects.filter(session_key=raw).delete()
        cache.delete(KEY_PREFIX + raw)


class Migration(migrations.Migration):
    dependencies = [("sessions", "0001_initial")]

    operations = [migrations.RunPython(session_keys_hash, migrations.RunPython.noop)]
