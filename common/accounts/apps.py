"""App config of the accounts feature: signup, verification, reset, email change, undo."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Connects the account's receivers, its system checks, and its part of every login."""

    name = "common.accounts"
    # Not `accounts`: a project very often has an app of that label.
    label = "dualauth_accounts"
    verbose_name = "dualauth accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from common.accounts import checks, signals  # noqa: F401
        from common.accounts.services import email_verification_gate
        from common.logins import login_gate_add

        login_gate_add(email_verification_gate)
