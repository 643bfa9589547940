"""Writes of passwords: confirming a logged-in user's password, validating and changing it,
and ending the logins begun under another.
"""

import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError

from common.audit import audit_event
from common.cache import cache_delete
from common.changes import PASSWORD_CHANGED, signin_change_announce
from common.logins import families_revoke
from common.models import LoginFamily, password_epoch
from common.principal import UserId, UserModel
from common.selectors import family_cache_key
from common.throttling import login_attempt_release, login_attempt_reserve, login_device_token


def families_password_revoke(*, user_id: UserId, password: str) -> int:
    """Revoke the user's live logins begun under another password than `password` (its hash)."""
    stale = LoginFamily.objects.filter(user_id=user_id, revoked_at__isnull=True).exclude(
        password_epoch=password_epoch(password)
    )
    return families_revoke(
        user_id=user_id, family_ids=list(stale.values_list("pk", flat=True)), reason="password"
    )


def password_confirm(
    *, user: UserModel, password: str, field: str, request: HttpRequest, device_token: str = ""
) -> None:
    """Check the password of a logged-in user, counted as a login attempt; else 400 on `field`.

    A known device (`device_token`, else the device cookie) is counted as at login.
    """
    username = user.get_username()
    counters = login_attempt_reserve(
        username=username,
        request=request,
        device_token=login_device_token(request=request, device_token=device_token),
    )
    if not user.check_password(password):
        audit_event("login_failed", request=request, username=username)
        raise ValidationError({field: ["The current password is not correct."]})
    login_attempt_release(counters)


def password_validate(*, password: str, user: UserModel, field: str) -> None:
    """Django's password validators on `password` for `user`; a 400 on `field` if one refuses."""
    try:
        validate_password(password, user)
    except DjangoValidationError as e:
        raise ValidationError({field: list(e.messages)}) from e


def password_change(
    *,
    user_id: UserId,
    old_password: str,
    new_password: str,
    keep_family_id: uuid.UUID | str | None,
    request: HttpRequest,
    device_token: str = "",
) -> UserModel:
    """Set a new password; every other login of the user ends, this one stays.

    The logins end through the user's `post_save` signal, as they do for a
    password set anywhere else; the kept login moves to the new password first.
    """
    user = get_user_model().objects.get(pk=user_id)
    password_confirm(
        user=user,
        password=old_password,
        field="old_password",
        request=request,
        device_token=device_token,
    )
    password_validate(password=new_password, user=user, field="new_password")
    user.set_password(new_password)
    with transaction.atomic():
        if keep_family_id is not None:
            LoginFamily.objects.filter(pk=keep_family_id, user_id=user.pk).update(
                password_epoch=password_epoch(user.password)
            )
        user.save(update_fields=["password"])
    if keep_family_id is not None:
        cache_delete(family_cache_key(keep_family_id, user.pk))
    audit_event("password_change", request=request, user_id=user.pk, family_id=keep_family_id)
    signin_change_announce(user_id=user.pk, change=PASSWORD_CHANGED, request=request)
    return user
