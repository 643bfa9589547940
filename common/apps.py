"""App config of the shared resource, resolver and revocation."""

from django.apps import AppConfig, apps
from django.core.exceptions import ImproperlyConfigured

# The features the shared endpoints serve (common/urls.py): common works with both or not at all.
FEATURE_APPS = ("common.accounts", "common.mfa", "common.providers")


class CommonConfig(AppConfig):
    """Connects the user signals, the system checks and the cache's recovery hooks; refuses to
    start without the features.
    """

    name = "common"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Raised here, not as a system check: the checks import the URLconf, which imports the
        # features' views and models, and fail on that before a check could say why.
        missing = [name for name in FEATURE_APPS if not apps.is_installed(name)]
        if missing:
            raise ImproperlyConfigured(
                f"INSTALLED_APPS has common but not {' and '.join(missing)}: dualauth's "
                "endpoints need its features. Add "
                + ", ".join(f'"{name}"' for name in missing)
                + ' after "common".'
            )
        from common import checks, schema, signals  # noqa: F401
        from common.cache_recovery import cache_poll_hook_add, cache_recovery_hook_add
        from common.logins import families_pending_recache, families_revoked_recache
        from common.push import push_prefix_register
        from common.selectors import FAMILY_KEY_PREFIX, USER_KEY_PREFIX

        cache_recovery_hook_add(families_revoked_recache)
        cache_poll_hook_add(families_pending_recache)
        push_prefix_register(FAMILY_KEY_PREFIX)
        push_prefix_register(USER_KEY_PREFIX)
