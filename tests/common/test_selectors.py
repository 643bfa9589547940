"""The core's reads: whether a user's address is verified."""

from common.models import Account
from common.selectors import email_verified


def test_an_account_awaiting_its_verification_is_not_verified(user):
    Account.objects.filter(user=user).update(email_verified=False)
    assert not email_verified(user_id=user.pk)


def test_a_user_without_an_account_row_counts_as_verified(user):
    Account.objects.filter(user=user).delete()
    assert email_verified(user_id=user.pk)
