"""Audit events: who, which login, from where; never a token or a password."""

import json
import logging
from datetime import timedelta

import pytest

from common.audit import JsonFormatter
from common.conf import dualauth_settings
from tests.modes import ModeClient


@pytest.fixture
def audit(caplog):
    caplog.set_level(logging.INFO, logger="dualauth.audit")
    return caplog


def _events(caplog) -> list[dict]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "dualauth.audit"
    ]


def test_every_security_event_is_audited_without_secrets(audit, user, password, settings):
    settings.DUALAUTH = {"REFRESH_GRACE_PERIOD": timedelta(0)}
    client = ModeClient("jwt-header")
    client.client.credentials(HTTP_USER_AGENT="AuditTest/1.0")
    client.login("alice", "wrong password")
    client.login("alice", password)
    first_refresh = client.tokens["refresh"]
    rotated = client.request("post", "/api/jwt/token/refresh/", {"refresh": first_refresh}).json()
    client.request("post", "/api/jwt/token/refresh/", {"refresh": first_refresh})
    browser = ModeClient("session")
    browser.login("alice", password)
    browser.request(
        "post", "/api/password/", {"old_password": password, "new_password": "a new passphrase 42"}
    )
    browser.logout()
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME):
        ModeClient("jwt-header").login("alice", "wrong again")
    ModeClient("jwt-header").login("alice", "a new passphrase 42")

    events = _events(audit)
    kinds = {event["event"] for event in events}
    assert kinds >= {
        "login",
        "login_failed",
        "refresh",
        "reuse_detected",
        "revoke",
        "password_change",
        "login_throttled",
    }
    login = next(e for e in events if e["event"] == "login" and e["mode"] == "jwt-header")
    assert login["user_id"] == user.pk
    assert login["family_id"]
    assert login["ip"] == "127.0.0.1"
    assert login["user_agent"] == "AuditTest/1.0"
    assert any(e["event"] == "revoke" and e["reason"] == "logout" for e in events)
    text = "\n".join(json.dumps(event) for event in events)
    secrets = [password, "wrong password", "a new passphrase 42", first_refresh, rotated["refresh"]]
    secrets += [client.tokens["access"], rotated["access"]]
    for secret in secrets:
        assert secret not in text
        assert secret.split(".")[-1] not in text
