"""Reads of accounts: by address and name in any case, and who counts as verified."""

import pytest
from django.contrib.auth import get_user_model

from common.accounts.models import Account
from common.accounts.selectors import account_by_email, email_verified, username_taken

User = get_user_model()


@pytest.mark.parametrize(
    "spelled", ["alice@example.com", "ALICE@example.com", " Alice@Example.COM "]
)
def test_an_account_is_found_by_its_address_in_any_case(user, spelled):
    found = account_by_email(email=spelled)
    assert found is not None
    assert found.user == user


@pytest.mark.parametrize("email", ["nobody@example.com", "", "   "])
def test_an_address_without_an_account_finds_none(user, email):
    assert account_by_email(email=email) is None


@pytest.mark.parametrize("spelled", ["alice", "ALICE", "Alice"])
def test_a_username_is_taken_in_any_case(user, spelled):
    assert username_taken(username=spelled)
    assert not username_taken(username="bob")


def test_an_account_awaiting_its_verification_is_not_verified(user):
    Account.objects.filter(user=user).update(email_verified=False)
    assert not email_verified(user_id=user.pk)


def test_a_user_without_an_account_row_counts_as_verified(user):
    Account.objects.filter(user=user).delete()
    assert email_verified(user_id=user.pk)
