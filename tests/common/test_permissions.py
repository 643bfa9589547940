"""Step-up (RFC 9470): a project's view asking for a recent or a strong login, in every mode."""

import time

import jwt
import pytest
from django.utils import timezone

from clients.mobile.dpop import DpopKey
from common.conf import dualauth_settings
from common.models import LoginFamily
from common.routes import SESSION
from tests.common.step_up_urls import ACR, MAX_AGE
from tests.modes import PASSWORD

pytestmark = pytest.mark.urls("tests.common.step_up_urls")
RECENT = "/api/step-up/recent/"
STRONG = "/api/step-up/strong/"


def test_a_recent_login_passes(logged_in):
    assert logged_in.request("post", RECENT).status_code == 200


def test_a_stale_login_gets_the_step_up_challenge_in_every_mode(logged_in, time_machine):
    time_machine.move_to(timezone.now() + MAX_AGE, tick=False)
    response = logged_in.request("post", RECENT)
    assert response.status_code == 401
    assert response.json()["code"] == "insufficient_user_authentication"
    challenge = response["WWW-Authenticate"]
    scheme = 'Session realm="api", ' if logged_in.mode == SESSION else "Bearer "
    assert challenge.startswith(scheme + 'error="insufficient_user_authentication"')
    assert f"max_age={int(MAX_AGE.total_seconds())}" in challenge
    # The client re-authenticates, and the retry passes.
    reauthenticated = logged_in.request(
        "post", "/api/account/reauthenticate/", {"password": PASSWORD}
    )
    assert reauthenticated.status_code == 200
    assert logged_in.request("post", RECENT).status_code == 200


def test_a_login_without_the_method_asked_for_gets_acr_values(logged_in, settings):
    settings.DUALAUTH = {**settings.DUALAUTH, "ACR_VALUES": {ACR: ["mfa"]}}
    response = logged_in.request("post", STRONG)
    assert response.status_code == 401
    assert response.json()["code"] == "insufficient_user_authentication"
    assert f'acr_values="{ACR}"' in response["WWW-Authenticate"]
    assert "max_age" not in response["WWW-Authenticate"]


def test_a_login_of_the_level_asked_for_passes(logged_in, settings):
    settings.DUALAUTH = {**settings.DUALAUTH, "ACR_VALUES": {ACR: ["pwd"]}}
    assert logged_in.request("post", STRONG).status_code == 200


def test_an_unmapped_level_is_never_reached(logged_in):
    assert logged_in.request("post", STRONG).status_code == 401


def test_a_bound_login_is_challenged_with_the_dpop_scheme(api, user, time_machine):
    key = DpopKey.generate()
    login = "/api/jwt/token/"
    body = {"username": user.get_username(), "password": PASSWORD}
    proof = key.proof(method="POST", url="http://testserver" + login)
    access = api.post(login, body, "json", HTTP_DPOP=proof).json()["access"]
    time_machine.move_to(timezone.now() + MAX_AGE, tick=False)
    response = api.post(
        RECENT,
        HTTP_AUTHORIZATION=f"DPoP {access}",
        HTTP_DPOP=key.proof(method="POST", url="http://testserver" + RECENT, access_token=access),
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('DPoP error="insufficient_user_authentication"')


def test_the_fresh_login_window_keeps_its_403(logged_in, time_machine, settings):
    settings.DUALAUTH = {**settings.DUALAUTH, "REAUTH_WINDOW": MAX_AGE}
    time_machine.move_to(timezone.now() + dualauth_settings.REAUTH_WINDOW, tick=False)
    response = logged_in.request("post", "/api/account/mfa/recovery-codes/")
    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"


def test_a_login_states_when_and_how_its_user_proved_who_they_are(logged_in):
    family = LoginFamily.objects.get()
    assert family.amr == "pwd"
    assert abs(family.authenticated_at.timestamp() - time.time()) < 5
    if logged_in.mode == "jwt-header":
        claims = jwt.decode(logged_in.tokens["access"], options={"verify_signature": False})
        assert claims["amr"] == ["pwd"]
        assert claims["auth_time"] == int(family.authenticated_at.timestamp())
        assert "acr" not in claims


def test_reauthenticating_sets_the_method_it_used(logged_in, time_machine):
    time_machine.move_to(timezone.now() + MAX_AGE, tick=False)
    logged_in.request("post", "/api/account/reauthenticate/", {"password": PASSWORD})
    family = LoginFamily.objects.get()
    assert family.amr == "pwd"
    assert family.authenticated_at == timezone.now()
