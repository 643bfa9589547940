"""The admin's view of linked identities: listed and searched, never made or edited by hand."""

import pytest
from django.test import Client

from common.providers.models import ProviderIdentity
from tests.modes import PASSWORD

pytestmark = pytest.mark.usefixtures("admin_served")
LIST = "/admin/dualauth_providers/provideridentity/"


@pytest.fixture
def admin_client(staff) -> Client:
    client = Client()
    response = client.post(
        "/admin/login/", {"username": staff.get_username(), "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302, response.content
    return client


def test_the_admin_lists_and_searches_linked_identities_read_only(admin_client, user):
    identity = ProviderIdentity.objects.create(
        user=user,
        provider="google",
        issuer="https://accounts.google.com",
        subject="1234567890",
        email="alice@gmail.example",
        linked_at=user.date_joined,
    )
    page = admin_client.get(LIST, {"q": "alice"})
    assert page.status_code == 200
    assert b"1234567890" in page.content
    assert admin_client.get(LIST, {"q": "nobody"}).content.count(b"1234567890") == 0
    assert admin_client.get(f"{LIST}add/").status_code == 403
    detail = admin_client.get(f"{LIST}{identity.pk}/change/")
    assert detail.status_code == 200
    assert b'name="subject"' not in detail.content
