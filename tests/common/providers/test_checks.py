"""The providers' system checks: E060 (issuer), E061 (client id), E062 (settings), E063 (id)."""

from typing import Any

from common.providers.checks import providers_check
from tests.common.accounts.conftest import dualauth


def ids(settings: Any, providers: Any, *, debug: bool = False) -> list[str | None]:
    settings.DEBUG = debug
    dualauth(settings, PROVIDERS=providers)
    return [error.id for error in providers_check()]


def test_an_http_issuer_fails_without_debug(settings):
    own = {"own": {"issuer": "http://op.example", "client_id": "c"}}
    assert ids(settings, own) == ["dualauth.E060"]
    assert ids(settings, own, debug=True) == []
    assert ids(settings, {"own": {"client_id": "c"}}) == ["dualauth.E060"]
    assert ids(settings, {"google": {"client_id": "c"}, "apple": {"client_id": "d"}}) == []


def test_a_provider_without_a_client_id_fails(settings):
    assert ids(settings, {"google": {"audiences": ["ios"]}}) == ["dualauth.E061"]


def test_unknown_settings_and_ids_unfit_for_a_url_fail(settings):
    assert ids(settings, {"google": {"client_id": "c", "secret": "x"}}) == ["dualauth.E062"]
    assert ids(settings, {"Bad Id": {"issuer": "https://x", "client_id": "c"}}) == ["dualauth.E063"]
