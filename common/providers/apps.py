"""App config of the external providers feature."""

from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    """Registers the feature's checks, its undo of a link and its sign-in method count."""

    name = "common.providers"
    label = "dualauth_providers"
    verbose_name = "External providers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from common.changes import IDENTITY_LINKED, signin_undo_register
        from common.providers import checks  # noqa: F401
        from common.providers.services import identity_link_undo

        signin_undo_register(IDENTITY_LINKED, identity_link_undo)
