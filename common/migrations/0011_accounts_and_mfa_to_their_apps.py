"""The accounts' and second factors' models belong to their own apps (dualauth_accounts,
dualauth_mfa), which take them over in their first migration: common forgets them, in the
migrations' state only, and their tables stay.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("common", "0010_throttle_count"),
        ("dualauth_accounts", "0001_initial"),
        ("dualauth_mfa", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name=name)
                for name in (
                    "Account",
                    "SignInChange",
                    "MfaChallenge",
                    "Passkey",
                    "RecoveryCode",
                    "TotpDevice",
                )
            ],
            database_operations=[],
        ),
    ]
