"""Make sure the demo account exists, and print how to use it in every mode."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from common.selectors import user_get_by_login
from common.services import user_create

USAGE = """
dualauth is serving on {base}
  Log in as: {username} / {password}
  API docs:  {base}/api/docs/

Session mode (cookies + CSRF):
  curl -s -c jar -b jar {base}/api/session/csrf/ >/dev/null
  curl -s -c jar -b jar -H "X-CSRFToken: $(awk '/csrftoken/ {{print $7}}' jar)" \\
       -H 'Content-Type: application/json' \\
       -d '{{"username": "{username}", "password": "{password}"}}' {base}/api/session/login/
  curl -s -b jar {base}/api/session/profile/

JWT, header (mobile):
  ACCESS=$(curl -s -H 'Content-Type: application/json' \\
       -d '{{"username": "{username}", "password": "{password}"}}' {base}/api/jwt/token/ \\
       | python3 -c 'import json, sys; print(json.load(sys.stdin)["access"])')
  curl -s -H "Authorization: Bearer $ACCESS" {base}/api/jwt/profile/

JWT, cookies (browser):
  curl -s -c jar2 -b jar2 {base}/api/session/csrf/ >/dev/null
  curl -s -c jar2 -b jar2 -H "X-CSRFToken: $(awk '/csrftoken/ {{print $7}}' jar2)" \\
       -H 'Content-Type: application/json' \\
       -d '{{"username": "{username}", "password": "{password}"}}' {base}/api/jwt/cookie/login/
  curl -s -b jar2 {base}/api/profile/
"""


class Command(BaseCommand):
    """Create or reset the demo account from DEMO_USERNAME and DEMO_PASSWORD."""

    help = "Ensure the demo account exists and print its credentials and curl examples."

    def add_arguments(self, parser: Any) -> None:
        """--base: the URL the server answers on."""
        parser.add_argument("--base", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        """Create the account, or reset its password, then print the usage."""
        username, password = settings.DEMO_ACCOUNT["username"], settings.DEMO_ACCOUNT["password"]
        if not password:
            raise CommandError("DEMO_PASSWORD is not set: `make run` writes one into .env.")
        user = user_get_by_login(login=username)
        if user is None:
            user_create(
                username=username,
                password=password,
                email=f"{username}@example.com",
                display_name="Demo User",
            )
        else:
            user.set_password(password)
            user.is_active = True
            user.save(update_fields=["password", "is_active"])
        self.stdout.write(USAGE.format(base=options["base"], username=username, password=password))
