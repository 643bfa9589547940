"""App config of the shared resource, resolver and revocation."""

from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Connects the user signals and the system checks; and, as the one app the features
    (accounts, mfa, passkeys) belong to, each feature's receivers and hooks.
    """

    name = "common"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from common import checks, schema, signals  # noqa: F401
        from common.accounts import signals as account_signals  # noqa: F401
        from common.cache_recovery import cache_poll_hook_add, cache_recovery_hook_add
        from common.changes import PASSKEY_ADDED, TOTP_ENABLED, signin_undo_register
        from common.factors import (
            factors_register,
            login_second_step_register,
            passkey_factor_register,
        )
        from common.logins import families_pending_recache, families_revoked_recache
        from common.mfa.login import mfa_login_begin
        from common.mfa.selectors import mfa_factors
        from common.mfa.services import mfa_code_confirm, mfa_factor_removed, totp_enabled_undo
        from common.passkeys.selectors import passkey_count
        from common.passkeys.services import (
            passkey_added_undo,
            passkey_assertion_options,
            passkey_assertion_verify,
        )

        cache_recovery_hook_add(families_revoked_recache)
        cache_poll_hook_add(families_pending_recache)
        signin_undo_register(TOTP_ENABLED, totp_enabled_undo)
        signin_undo_register(PASSKEY_ADDED, passkey_added_undo)
        factors_register(
            code_confirm=mfa_code_confirm, summary=mfa_factors, removed=mfa_factor_removed
        )
        login_second_step_register(begin=mfa_login_begin)
        passkey_factor_register(
            count=passkey_count, options=passkey_assertion_options, verify=passkey_assertion_verify
        )
