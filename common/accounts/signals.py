"""The account's receivers: it follows its user's name and address, and each change to how
the user signs in is kept and mailed to them.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from common.accounts.services import account_sync, signin_change_record
from common.changes import signin_changed

User = get_user_model()


@receiver(post_save, sender=User, dispatch_uid="dualauth_account_user_saved")
def account_user_saved(
    sender: type, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    """Give a new user an account, and keep it in step with the name and address."""
    identity = {instance.USERNAME_FIELD, instance.get_email_field_name()}
    if created or update_fields is None or identity & set(update_fields):
        account_sync(user=instance)


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
