"""Every user has a profile; deactivating or deleting a user ends all its logins."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from common.cache import cache_delete
from common.models import Profile
from common.selectors import user_cache_key
from common.services import families_revoke

User = get_user_model()


@receiver(post_save, sender=User, dispatch_uid="dualauth_user_saved")
def user_saved(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    """Give a new user a profile; revoke a deactivated user's logins."""
    if created:
        Profile.objects.get_or_create(user=instance)
    elif not instance.is_active:
        families_revoke(user_id=instance.pk, reason="user_deactivated")


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
