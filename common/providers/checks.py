"""System checks of the providers' settings: dualauth.E060 to E069."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from common.conf import dualauth_settings
from common.providers.registry import BUILT_IN, SETTING_KEYS, provider_from_settings

PROVIDER_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


@register()
def providers_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Each configured provider has an issuer of its own or built in, https unless DEBUG, a
    client id, known settings only and an id fit for a URL.
    """
    errors: list[CheckMessage] = []
    configured = dualauth_settings.PROVIDERS
    if not isinstance(configured, dict):
        return [Error("DUALAUTH['PROVIDERS'] must be a dict by provider id.", id="dualauth.E062")]
    for provider_id, values in configured.items():
        if not isinstance(values, dict) or set(values) - SETTING_KEYS:
            errors.append(
                Error(
                    f"Provider {provider_id!r}: unknown settings.",
                    hint=f"Each provider takes {sorted(SETTING_KEYS)}.",
                    id="dualauth.E062",
                )
            )
            continue
        if not provider_id or set(provider_id) - PROVIDER_ID_CHARACTERS:
            errors.append(
                Error(
                    f"Provider id {provider_id!r}: lower-case letters, digits, - and _ only.",
                    id="dualauth.E063",
                )
            )
        provider = provider_from_settings(provider_id, values)
        if not provider.issuer:
            errors.append(
                Error(
                    f"Provider {provider_id!r} has no issuer.",
                    hint=f"Set PROVIDER_{provider_id.upper()}_ISSUER; only "
                    f"{sorted(BUILT_IN)} have theirs built in.",
                    id="dualauth.E060",
                )
            )
        elif not provider.issuer.startswith("https://") and not (
            settings.DEBUG and provider.issuer.startswith("http://")
        ):
            errors.append(
                Error(
                    f"Provider {provider_id!r}: the issuer must be an https:// URL.",
                    hint="An http:// issuer is accepted only with DEBUG on.",
                    id="dualauth.E060",
                )
            )
        if not provider.client_id:
            errors.append(
                Error(
                    f"Provider {provider_id!r} has no client id.",
                    hint=f"Set PROVIDER_{provider_id.upper().replace('-', '_')}_CLIENT_ID.",
                    id="dualauth.E061",
                )
            )
    return errors
