"""The project's settings without dualauth's features: what tests/common/test_apps.py starts."""

from project.settings import *  # noqa: F403
from project.settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app not in ("common.accounts", "common.mfa")]
