"""dualauth's profile table, mapped as a stock project maps a profile: a one-to-one row."""

from django.conf import settings
from django.db import models


class Profile(models.Model):
    """The editable part of a user's profile (`common_profile`, owned by dualauth's migrations)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="profile"
    )
    display_name = models.CharField(max_length=100, blank=True)
    bio = models.CharField(max_length=500, blank=True)

    class Meta:
        managed = False
        db_table = "common_profile"

    def __str__(self) -> str:
        return f"profile {self.pk}"
