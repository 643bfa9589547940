"""System checks of the second factors' settings: the keys of authenticator apps' secrets, and
the relying party of passkeys.
"""

from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from common.conf import dualauth_settings


@register(Tags.security)
def mfa_keys_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse MFA encryption keys that are not Fernet keys, or that are SECRET_KEY."""
    errors: list[CheckMessage] = []
    for index, key in enumerate(dualauth_settings.MFA_ENCRYPTION_KEYS, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            errors.append(
                Error(
                    f"MFA_ENCRYPTION_KEY key {index} is not a Fernet key (URL-safe base64 of "
                    "32 bytes): the secrets of authenticator apps could not be read or written.",
                    hint="Make one with: python -c 'import base64, secrets; "
                    "print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'",
                    id="dualauth.E035",
                )
            )
    if settings.SECRET_KEY in dualauth_settings.MFA_ENCRYPTION_KEYS:
        errors.append(
            Error(
                "An MFA_ENCRYPTION_KEY key is SECRET_KEY: whoever learns one learns both.",
                id="dualauth.E036",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def mfa_deploy_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Warn where authenticator apps cannot be enabled, or passkeys bind to any Host."""
    warnings: list[CheckMessage] = []
    if not dualauth_settings.MFA_ENCRYPTION_KEYS:
        warnings.append(
            Warning(
                "MFA_ENCRYPTION_KEY is unset: users cannot enable an authenticator app "
                "(503 mfa_not_configured); passkeys still work.",
                hint="Set MFA_ENCRYPTION_KEY to a Fernet key, kept apart from SECRET_KEY.",
                id="dualauth.W002",
            )
        )
    if not dualauth_settings.WEBAUTHN_RP_ID and "*" in settings.ALLOWED_HOSTS:
        warnings.append(
            Warning(
                "WEBAUTHN_RP_ID is unset and ALLOWED_HOSTS admits any host: passkeys would be "
                "made for whatever host a request names.",
                hint="Set WEBAUTHN_RP_ID (and WEBAUTHN_ORIGINS), or list the hosts.",
                id="dualauth.W003",
            )
        )
    return warnings


@register(Tags.security)
def webauthn_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse WebAuthn origins that are not origins, or outside the relying party's domain."""
    errors: list[CheckMessage] = []
    rp_id = dualauth_settings.WEBAUTHN_RP_ID
    for origin in dualauth_settings.WEBAUTHN_ORIGINS:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host or parts.path or parts.query:
            errors.append(
                Error(
                    f"WEBAUTHN_ORIGINS has {origin!r}, which is not an origin.",
                    hint="An origin is a scheme, a host and a port only: https://app.example.com",
                    id="dualauth.E037",
                )
            )
        elif rp_id and host != rp_id and not host.endswith(f".{rp_id}"):
            errors.append(
                Error(
                    f"WEBAUTHN_ORIGINS has {origin!r}, outside WEBAUTHN_RP_ID {rp_id!r}: "
                    "browsers refuse passkeys of a relying party whose domain is not the page's.",
                    id="dualauth.E038",
                )
            )
    return errors
