"""Delete the signups that never verified their address in time, freeing their names."""

from typing import Any

from django.core.management.base import BaseCommand

from common.accounts.services import signups_expired_purge


class Command(BaseCommand):
    """Delete accounts still unverified VERIFICATION_KEY_LIFETIME after their signup.

    Run it from cron (hourly, say); only with EMAIL_VERIFICATION=mandatory does it delete any.
    """

    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        """Purge, and say how many went."""
        count = signups_expired_purge()
        self.stdout.write(f"purged {count} unverified signup(s)")
