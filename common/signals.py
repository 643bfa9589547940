"""User signals: a profile for each user; logins end when their user or password goes.

The accounts feature keeps the account in step with the user and tells each change to how a
user signs in (common/accounts/signals.py).
"""

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from common.cache import cache_delete
from common.logins import families_revoke
from common.models import Profile
from common.passwords import families_password_revoke
from common.selectors import user_cache_key

User = get_user_model()


@receiver(post_save, sender=User, dispatch_uid="dualauth_user_saved")
def user_saved(
    sender: type, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    """Give a new user a profile; end a deactivated user's logins, and those of an old password.

    Whoever set the password (the API, the admin, `changepassword`, a script's
    `set_password()` and `save()`), the logins begun under another one end here.
    """
    if created:
        Profile.objects.get_or_create(user=instance)
    elif not instance.is_active:
        families_revoke(user_id=instance.pk, reason="user_deactivated")
    elif update_fields is None or "password" in update_fields:
        families_password_revoke(user_id=instance.pk, password=instance.password)


@receiver(post_save, sender=User, dispatch_uid="dualauth_user_forget")
@receiver(post_save, sender=Profile, dispatch_uid="dualauth_profile_forget")
@receiver(post_delete, sender=User, dispatch_uid="dualauth_user_deleted_forget")
def user_snapshot_forget(sender: type, instance: Any, **kwargs: Any) -> None:
    """Drop the cached snapshot of a user whose row or profile changed."""
    cache_delete(user_cache_key(instance.user_id if isinstance(instance, Profile) else instance.pk))


@receiver(pre_delete, sender=User, dispatch_uid="dualauth_user_deleted")
def user_deleted(sender: type, instance: Any, **kwargs: Any) -> None:
    """Revoke a deleted user's logins before its rows go."""
    families_revoke(user_id=instance.pk, reason="user_deleted")


@receiver(connection_created, dispatch_uid="dualauth_sqlite_private")
def sqlite_file_private(sender: type, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Make a SQLite database readable by its owner alone: it holds password hashes.

    SQLite gives its journal and WAL files the database file's own permissions.
    """
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict["NAME"])
    if Path(name).is_file():
        Path(name).chmod(0o600)
