"""App config of the second factors: authenticator apps, recovery codes, passkeys."""

from django.apps import AppConfig


class MfaConfig(AppConfig):
    """Connects the second factors' system checks, and answers the hooks by which the accounts
    reach them and undo their changes.
    """

    name = "common.mfa"
    # Not `mfa`: a project may have an app of that label.
    label = "dualauth_mfa"
    verbose_name = "dualauth second factors"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from common.changes import PASSKEY_ADDED, TOTP_ENABLED, signin_undo_register
        from common.factors import factors_register, login_second_step_register
        from common.mfa import checks  # noqa: F401
        from common.mfa.login import mfa_login_begin
        from common.mfa.selectors import mfa_factors
        from common.mfa.services import mfa_code_confirm, totp_enabled_undo
        from common.mfa.webauthn.services import passkey_added_undo

        signin_undo_register(TOTP_ENABLED, totp_enabled_undo)
        signin_undo_register(PASSKEY_ADDED, passkey_added_undo)
        factors_register(code_confirm=mfa_code_confirm, summary=mfa_factors)
        login_second_step_register(begin=mfa_login_begin)
