"""The providers' registry against a real provider: what its discovery document may say."""

from typing import Any

import pytest

from common.providers.registry import DISCOVERY_PATH
from tests.common.providers.test_views import provider_login, shared
from tests.modes import ModeClient
from tests.oidc import OidcProvider

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:1", 7, None])
def test_a_discovery_document_naming_another_issuer_is_refused_and_its_keys_never_fetched(
    configure: Any, own_op: OidcProvider, caplog: pytest.LogCaptureFixture, issuer: Any
) -> None:
    own_op.discovery_changes = {"issuer": issuer}
    configure(own_op)
    response = provider_login(ModeClient("jwt-header"), own_op)
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "provider_unavailable"
    assert own_op.hits[DISCOVERY_PATH] == 1
    assert "/jwks" not in own_op.hits
    assert "names another issuer" in caplog.text
    # The browser's sign-in is refused before it leaves for the provider, with the same code.
    redirect = ModeClient("session").client.get(
        shared("provider-redirect", provider_id="test") + "?mode=session&next=/"
    )
    assert redirect.status_code == 302
    assert redirect["Location"].endswith("#action=provider-error&code=provider_unavailable")
    assert "/authorize" not in own_op.hits
    assert "/jwks" not in own_op.hits
