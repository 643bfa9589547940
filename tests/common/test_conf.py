"""`dualauth_settings`: the DUALAUTH setting over its defaults, read once, read again on change."""

from datetime import timedelta

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
    try:
        dualauth_settings.NO_SUCH_SETTING  # noqa: B018
    except AttributeError:
        return
    raise AssertionError("an unknown setting was read")
