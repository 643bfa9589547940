"""`dualauth_settings`: the DUALAUTH setting over its defaults, read once, read again on change."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from common.conf import DEFAULTS, dualauth_settings


def test_a_setting_read_before_an_override_follows_it_and_comes_back_after(settings):
    assert DEFAULTS["TOUCH_INTERVAL"] == dualauth_settings.TOUCH_INTERVAL
    with override_settings(DUALAUTH={"TOUCH_INTERVAL": timedelta(seconds=7)}):
        assert timedelta(seconds=7) == dualauth_settings.TOUCH_INTERVAL
        # A setting the override leaves out reads its default.
        assert DEFAULTS["REAUTH_WINDOW"] == dualauth_settings.REAUTH_WINDOW
    assert DEFAULTS["TOUCH_INTERVAL"] == dualauth_settings.TOUCH_INTERVAL


def test_a_setting_read_under_an_override_is_forgotten_with_it(settings):
    with override_settings(DUALAUTH={"REAUTH_WINDOW": timedelta(seconds=9)}):
        assert timedelta(seconds=9) == dualauth_settings.REAUTH_WINDOW
    settings.DUALAUTH = {"REAUTH_WINDOW": timedelta(seconds=11)}
    assert timedelta(seconds=11) == dualauth_settings.REAUTH_WINDOW


def test_an_unknown_name_is_no_setting():
    with pytest.raises(AttributeError):
        dualauth_settings.NO_SUCH_SETTING  # noqa: B018


@pytest.mark.parametrize("name", ["API_PREFIX", "ACCESS_COOKIE_PATH", "REFRESH_COOKIE_PATH"])
def test_a_derived_setting_still_set_is_refused_with_what_to_do_instead(settings, name):
    settings.DUALAUTH = {name: "/api/"}
    with pytest.raises(ImproperlyConfigured, match=rf"Remove DUALAUTH\['{name}'\]: the "):
        dualauth_settings.TOUCH_INTERVAL  # noqa: B018


def test_a_revocation_level_other_than_strict_or_push_is_refused(settings):
    settings.DUALAUTH = {"REVOCATION": "lazy"}
    with pytest.raises(ValueError, match=r"REVOCATION'\] must be one of \('strict', 'push'\)"):
        dualauth_settings.REVOCATION  # noqa: B018


def test_the_revocation_level_is_strict_by_default():
    assert dualauth_settings.REVOCATION == "strict"
