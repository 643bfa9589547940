"""User signals: a profile for each user; logins end when their user or password goes; each
change to how a user signs in is kept and mailed to them.
"""

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from django.http import HttpRequest

from common.accounts.services import account_sync, signin_change_record
from common.cache import cache_delete
from common.changes import signin_changed
from common.models import Profile
from common.selectors import user_cache_key
from common.services import families_password_revoke, families_revoke

User = get_user_model()


@receiver(post_save, sender=User, dispatch_uid="dualauth_user_saved")
def user_saved(
    sender: type, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    """Give a new user a profile and an account; end a deactivated user's logins, and those of
    an old password; keep the account in step with the name and address.

    Whoever set the password (the API, the admin, `changepassword`, a script's
    `set_password()` and `save()`), the logins begun under another one end here.
    """
    if created:
        Profile.objects.get_or_create(user=instance)
    elif not instance.is_active:
        families_revoke(user_id=instance.pk, reason="user_deactivated")
    elif update_fields is None or "password" in update_fields:
        families_password_revoke(user_id=instance.pk, password=instance.password)
    identity = {instance.USERNAME_FIELD, instance.get_email_field_name()}
    if created or update_fields is None or identity & set(update_fields):
        account_sync(user=instance)


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


@receiver(signin_changed, dispatch_uid="dualauth_signin_changed")
def signin_change_tell(
    sender: Any,
    *,
    user_id: Any,
    change: str,
    request: HttpRequest,
    reference: str,
    detail: str,
    **kwargs: Any,
) -> None:
    """Keep a change to how the user signs in, and mail it with its undo key."""
    signin_change_record(
        user_id=user_id, change=change, request=request, reference=reference, detail=detail
    )


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
