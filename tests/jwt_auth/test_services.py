"""Refresh rotation: atomic at the database, a grace window, lifetimes that end."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from common.conf import dualauth_settings
from common.models import LoginFamily
from jwt_auth.tokens import FamilyRefreshToken
from tests.conftest import require_service, uses_postgres
from tests.live import refresh_rounds

RACERS = 16
ROUNDS = 4


def test_one_refresh_token_sent_many_times_at_once_never_yields_two_new_refresh_tokens(
    live_server_factory, live_user, password
):
    require_service(uses_postgres(), "the refresh race runs on PostgreSQL (set DATABASE_URL)")
    server = live_server_factory(workers=2, threads=8)
    login = httpx.post(
        f"{server.url}/api/jwt/token/", json={"username": "alice", "password": password}
    )
    refresh = refresh_rounds(server.url, login.json()["refresh"], racers=RACERS, rounds=ROUNDS)
    family = LoginFamily.objects.get()
    assert family.revoked_at is None
    assert family.refresh_jti == FamilyRefreshToken(refresh)["jti"]


def test_a_refresh_after_the_family_lifetime_is_refused(api, user, password):
    tokens = api.post("/api/jwt/token/", {"username": "alice", "password": password}, "json")
    LoginFamily.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api.post("/api/jwt/token/refresh/", {"refresh": tokens.json()["refresh"]}, "json")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_refresh_tokens_never_outlive_their_family(api, user, password, settings):
    settings.DUALAUTH = {"FAMILY_LIFETIME": timedelta(hours=1)}
    tokens = api.post("/api/jwt/token/", {"username": "alice", "password": password}, "json")
    refresh = FamilyRefreshToken(tokens.json()["refresh"])
    family = LoginFamily.objects.get()
    assert refresh["exp"] <= family.expires_at.timestamp()
    assert family.expires_at - family.created_at == timedelta(hours=1)


@pytest.mark.parametrize("seconds", [-1, 61])
def test_a_grace_window_outside_zero_to_sixty_seconds_is_refused(settings, seconds):
    settings.DUALAUTH = {"REFRESH_GRACE_PERIOD": timedelta(seconds=seconds)}
    with pytest.raises(ValueError, match="between 0 and 60"):
        _ = dualauth_settings.REFRESH_GRACE_PERIOD


def test_a_refresh_repeated_inside_the_grace_window_is_audited(audit_events, api, user, password):
    pair = api.post("/api/jwt/token/", {"username": "alice", "password": password}, "json").json()
    for _ in range(2):
        assert (
            api.post("/api/jwt/token/refresh/", {"refresh": pair["refresh"]}, "json").status_code
            == 200
        )
    family_id = str(LoginFamily.objects.get(user=user).pk)
    repeats = [e for e in audit_events() if e["event"] == "refresh_repeat"]
    assert [(e["family_id"], e["user_id"]) for e in repeats] == [(family_id, user.pk)]
