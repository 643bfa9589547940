"""The custom user model in the admin, as a project registers its own user model there."""

from django.contrib import admin

from tests.custom_user.models import User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    """What an operator changes of a user: its address, whether it may log in, its staff flag."""

    fields = ("email", "is_active", "is_staff")
    search_fields = ("email",)
