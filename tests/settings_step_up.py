"""The project's settings with a project's own step-up views (tests/common/step_up_urls.py):
what the SPA's server serves, so that its pages meet the RFC 9470 challenge of a real view.
"""

from project.settings import *  # noqa: F403

ROOT_URLCONF = "tests.common.step_up_urls"
