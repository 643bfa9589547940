"""Prometheus metrics: each counter moves with its event, and /metrics is served to the allowed."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from common.cache import cache_get_many, cache_set
from common.conf import dualauth_settings
from common.routes import api_prefix, mode_path
from tests.modes import MODES, ModeClient

TOKEN = "t" * 16 + "K" * 16
OUTSIDE = "203.0.113.7"


def value(name: str, **labels: str) -> float:
    """The current value of the sample `name` with `labels` in this process, 0 if none yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def total(name: str) -> float:
    """The sum of every sample named `name`, whatever its labels."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        for sample in metric.samples
        if sample.name == name
    )


def test_a_login_is_counted_ok_by_its_mode(mode, user, password):
    before = value("dualauth_logins_total", mode=mode, outcome="ok")
    assert ModeClient(mode).login(user.get_username(), password).status_code == 200
    assert value("dualauth_logins_total", mode=mode, outcome="ok") == before + 1


def test_a_failed_login_is_counted_failed_by_its_mode(mode, user):
    before = value("dualauth_logins_total", mode=mode, outcome="failed")
    others = {m: value("dualauth_logins_total", mode=m, outcome="failed") for m in MODES}
    assert ModeClient(mode).login(user.get_username(), "wrong").status_code == 401
    assert value("dualauth_logins_total", mode=mode, outcome="failed") == before + 1
    for other in set(MODES) - {mode}:
        assert value("dualauth_logins_total", mode=other, outcome="failed") == others[other]


def test_a_throttled_login_is_counted_as_a_throttled_login_and_request(user):
    name = user.get_username()
    throttled = value("dualauth_logins_total", mode="jwt-header", outcome="throttled")
    scoped = value("dualauth_throttled_total", scope="login-failures:user")
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        assert ModeClient("jwt-header").login(name, "wrong").status_code == 401
    assert ModeClient("jwt-header").login(name, "wrong").status_code == 429
    assert value("dualauth_logins_total", mode="jwt-header", outcome="throttled") == throttled + 1
    assert value("dualauth_throttled_total", scope="login-failures:user") == scoped + 1


def test_a_refresh_and_a_reuse_are_counted_and_the_reuse_revokes(user, password, settings):
    settings.DUALAUTH = {"REFRESH_GRACE_PERIOD": timedelta(0)}
    client = ModeClient("jwt-header")
    client.login(user.get_username(), password)
    refresh = client.tokens["refresh"]
    ok = value("dualauth_refreshes_total", outcome="ok")
    reuse = value("dualauth_refresh_reuse_detected_total")
    revoked = value("dualauth_revocations_total", reason="reuse")
    path = mode_path("jwt-header", "refresh")
    assert client.request("post", path, {"refresh": refresh}).status_code == 200
    assert value("dualauth_refreshes_total", outcome="ok") == ok + 1
    assert value("dualauth_refresh_reuse_detected_total") == reuse
    assert client.request("post", path, {"refresh": refresh}).json()["code"] == "token_reused"
    assert value("dualauth_refresh_reuse_detected_total") == reuse + 1
    assert value("dualauth_revocations_total", reason="reuse") == revoked + 1


def test_logout_everywhere_counts_one_revocation_per_login(user, password):
    clients = [ModeClient(mode) for mode in MODES]
    for client in clients:
        client.login(user.get_username(), password)
    before = value("dualauth_revocations_total", reason="logout_all")
    events = value("dualauth_audit_events_total", event="revoke")
    response = clients[1].request("post", f"{api_prefix()}logout-all/")
    assert response.status_code == 204, response.content
    assert value("dualauth_revocations_total", reason="logout_all") == before + len(MODES)
    assert value("dualauth_audit_events_total", event="revoke") == events + len(MODES)


def test_a_cache_failure_and_the_recovery_after_it_are_counted(
    user, password, settings, dead_cache
):
    failures = total("dualauth_cache_failures_total")
    working = settings.CACHES
    settings.CACHES = {**working, "dualauth": dead_cache}
    assert ModeClient("jwt-header").login(user.get_username(), password).status_code == 200
    assert total("dualauth_cache_failures_total") > failures
    sets = value("dualauth_cache_failures_total", operation="set")
    cache_set("metrics-test", 1, timeout=1)
    assert value("dualauth_cache_failures_total", operation="set") == sets + 1
    settings.CACHES = working
    recoveries = value("dualauth_cache_recoveries_total")
    # The next use of the cache pays what the failures owed it, once.
    assert cache_get_many(["metrics-test"]) is not None
    assert value("dualauth_cache_recoveries_total") == recoveries + 1
    assert cache_get_many(["metrics-test"]) is not None
    assert value("dualauth_cache_recoveries_total") == recoveries + 1


def test_the_latency_of_an_authentication_is_recorded_under_its_mode_only(logged_in):
    counts = {m: value("dualauth_authentication_seconds_count", mode=m) for m in MODES}
    sums = value("dualauth_authentication_seconds_sum", mode=logged_in.mode)
    assert logged_in.request("get", logged_in.profile_path).status_code == 200
    for mode in MODES:
        moved = 1 if mode == logged_in.mode else 0
        assert value("dualauth_authentication_seconds_count", mode=mode) == counts[mode] + moved
    assert value("dualauth_authentication_seconds_sum", mode=logged_in.mode) > sums


def refuse_credential(client: ModeClient) -> None:
    """Have `client` present a credential of its mode that names no login."""
    client.replay("not-a-credential")


def test_a_refused_credential_is_timed_as_failed_under_its_mode_only(logged_in):
    passed = value("dualauth_authentication_seconds_count", mode=logged_in.mode)
    failed = {m: value("dualauth_authentication_failed_seconds_count", mode=m) for m in MODES}
    refuse_credential(logged_in)
    assert logged_in.request("get", logged_in.profile_path).status_code == 401
    for mode in MODES:
        moved = 1 if mode == logged_in.mode else 0
        assert value("dualauth_authentication_failed_seconds_count", mode=mode) == (
            failed[mode] + moved
        )
    assert value("dualauth_authentication_seconds_count", mode=logged_in.mode) == passed


@pytest.mark.parametrize("mode", ["session", "jwt-cookie"])
def test_a_cookie_refused_for_its_missing_csrf_token_is_timed_as_failed(mode, user, password):
    client = ModeClient(mode)
    client.login(user.get_username(), password)
    failed = value("dualauth_authentication_failed_seconds_count", mode=mode)
    passed = value("dualauth_authentication_seconds_count", mode=mode)
    response = client.request("patch", client.profile_path, {"bio": "x"}, csrf=False)
    assert response.status_code == 403
    assert value("dualauth_authentication_failed_seconds_count", mode=mode) == failed + 1
    assert value("dualauth_authentication_seconds_count", mode=mode) == passed


def metrics_client(**extra: str) -> APIClient:
    """A client that sends `extra` (REMOTE_ADDR, headers) with every request."""
    client = APIClient()
    client.defaults.update(extra)
    return client


def test_metrics_are_served_in_the_prometheus_text_format_to_loopback(db):
    response = metrics_client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"# TYPE dualauth_logins_total counter" in response.content
    assert b"# TYPE dualauth_authentication_seconds histogram" in response.content
    assert b"# TYPE dualauth_authentication_failed_seconds histogram" in response.content


def test_metrics_are_refused_to_a_client_outside_the_allowed_networks(db):
    response = metrics_client(REMOTE_ADDR=OUTSIDE).get("/metrics")
    assert response.status_code == 403
    assert response.json()["code"] == "metrics_forbidden"
    assert b"dualauth_" not in response.content


def test_metrics_believe_a_forwarded_address_from_a_trusted_proxy_only(db, settings):
    settings.DUALAUTH = {"TRUSTED_PROXIES": ["127.0.0.1"]}
    proxied = metrics_client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDE)
    assert proxied.get("/metrics").status_code == 403
    settings.DUALAUTH = {}
    spoofed = metrics_client(REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert spoofed.get("/metrics").status_code == 403


def test_an_allowed_network_opens_the_metrics(db, settings):
    settings.DUALAUTH = {"METRICS_ALLOWED_NETWORKS": ["203.0.113.0/24"]}
    assert metrics_client(REMOTE_ADDR=OUTSIDE).get("/metrics").status_code == 200
    assert metrics_client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403
    mapped = metrics_client(REMOTE_ADDR=f"::ffff:{OUTSIDE}")
    assert mapped.get("/metrics").status_code == 200


def test_the_metrics_token_opens_the_metrics_from_anywhere(db, settings):
    settings.DUALAUTH = {"METRICS_TOKEN": TOKEN}
    client = metrics_client(REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"dualauth_logins_total" in response.content


@pytest.mark.parametrize("address", [OUTSIDE, "127.0.0.1"])
def test_a_wrong_metrics_token_is_refused_even_from_an_allowed_network(db, settings, address):
    settings.DUALAUTH = {"METRICS_TOKEN": TOKEN}
    for wrong in (TOKEN[:-1] + "x", TOKEN[:-1], "", TOKEN + "x"):
        client = metrics_client(REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Bearer {wrong}")
        assert client.get("/metrics").status_code == 403


def test_without_a_configured_token_a_bearer_opens_nothing(db):
    client = metrics_client(REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer ")
    assert client.get("/metrics").status_code == 403


def test_the_metrics_are_outside_the_api_prefix_and_read_only(db):
    client = metrics_client(REMOTE_ADDR="127.0.0.1")
    assert client.get(f"{api_prefix()}metrics").status_code == 404
    assert client.post("/metrics").status_code == 405


def test_a_short_metrics_token_fails_the_system_checks(settings):
    settings.DUALAUTH = {"METRICS_TOKEN": TOKEN[:-1]}
    with pytest.raises(SystemCheckError, match=r"dualauth\.E041"):
        call_command("check")
    settings.DUALAUTH = {"METRICS_TOKEN": TOKEN}
    call_command("check")


def test_an_allowed_network_that_is_not_one_fails_the_system_checks(settings):
    settings.DUALAUTH = {"METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8", "intranet"]}
    with pytest.raises(SystemCheckError, match=r"dualauth\.E042"):
        call_command("check")
