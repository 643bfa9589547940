"""App config of the shared resource, resolver and revocation."""

from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Connects the user signals and the system checks."""

    name = "common"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from common import checks, schema, signals  # noqa: F401
        from common.cache import cache_poll_hook_add, cache_recovery_hook_add
        from common.services import families_pending_recache, families_revoked_recache

        cache_recovery_hook_add(families_revoked_recache)
        cache_poll_hook_add(families_pending_recache)
