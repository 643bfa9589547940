"""common refuses to start without its features' apps: the error says which to add."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

SETTINGS = "tests.settings_without_features"


def test_common_without_its_features_refuses_to_start_naming_the_apps_to_add() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(settings.BASE_DIR),
        env={**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert (
        "INSTALLED_APPS has common but not common.accounts and common.mfa: dualauth's endpoints "
        'need its features. Add "common.accounts", "common.mfa" after "common".'
    ) in result.stderr
