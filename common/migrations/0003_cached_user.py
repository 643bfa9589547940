"""No operation: dualauth keeps no proxy of the user model, which a swapped model cannot have.

A proxy has no table, so a database keeps nothing of one but its content type.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("common", "0002_profiles_for_existing_users"),
    ]

    operations = []
