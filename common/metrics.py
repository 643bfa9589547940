"""Prometheus metrics: counted where the code already audits or logs, served at `/metrics`.

Every audit event passes through `audit_event_count` (common/audit.py calls it), so a
new audited event is counted without touching its call site; the few unaudited ones
(throttle refusals, cache failures and recoveries, the hot path's latency, passed or
failed) are counted where they happen. Under gunicorn each worker writes its values to files in
`PROMETHEUS_MULTIPROC_DIR` and `/metrics` sums them (prometheus-client's multiprocess
mode); without that variable (runserver, tests) the process's default registry serves.
"""

import hmac
import ipaddress
import os
from typing import Any

from django.http import HttpRequest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from common.conf import dualauth_settings
from common.net import address_in, client_ip

# The variable prometheus-client itself reads when a metric is created: agree with it.
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# An authentication takes 0.1 ms (a cached JWT) to tens of ms (a cold cache and the database).
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.00075,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.02,
    0.05,
)
# A login event's mode when the audit record names none (a password confirmed by a logged-in user).
NO_MODE = "none"

AUDIT_EVENTS = Counter("dualauth_audit_events", "Audit events written, by event.", ["event"])
LOGINS = Counter(
    "dualauth_logins",
    "Login attempts by mode and outcome (ok, failed, throttled, mfa_required).",
    ["mode", "outcome"],
)
THROTTLED = Counter(
    "dualauth_throttled",
    "Requests refused by a throttle (429), by the scope of the bucket over its limit.",
    ["scope"],
)
REFRESHES = Counter(
    "dualauth_refreshes",
    "Refresh tokens exchanged: ok (rotated) or repeat (the same successor within the grace).",
    ["outcome"],
)
REUSE_DETECTED = Counter(
    "dualauth_refresh_reuse_detected",
    "Rotated-out refresh tokens presented again: each revoked its whole family.",
)
PROVIDER_EVENTS = Counter(
    "dualauth_provider_events",
    "External provider sign-ins, sign-ups, refusals and links, by provider id and outcome.",
    ["provider", "outcome"],
)
REVOCATIONS = Counter("dualauth_revocations", "Logins revoked, by reason.", ["reason"])
CACHE_FAILURES = Counter(
    "dualauth_cache_failures",
    "Cache operations that failed, by operation: the caller fell back to the database "
    "(revocation state) or failed open (throttles).",
    ["operation"],
)
CACHE_RECOVERIES = Counter(
    "dualauth_cache_recoveries",
    "Times the cache answered again after a failure and the missed revocations were rewritten.",
)
AUTHENTICATION_SECONDS = Histogram(
    "dualauth_authentication_seconds",
    "Time to authenticate a request that presented a credential and passed, by mode.",
    ["mode"],
    buckets=LATENCY_BUCKETS,
)
AUTHENTICATION_FAILED_SECONDS = Histogram(
    "dualauth_authentication_failed_seconds",
    "Time to refuse a request that presented a credential, by mode: a bad or revoked "
    "credential (401), or a cookie without its CSRF token (403).",
    ["mode"],
    buckets=LATENCY_BUCKETS,
)
PUSH_READS = Counter(
    "dualauth_push_reads",
    "Reads of mirrored cache entries under the `push` revocation level, by source: local "
    "(every entry from this process's memory) or redis (a round trip).",
    ["source"],
)
PUSH_DOUBTS = Counter(
    "dualauth_push_doubts",
    "Times a process stopped trusting its push channel and went back to `strict`, by reason "
    "(connection, subscription, heartbeat, topology).",
    ["reason"],
)
PUSH_TRUSTED = Gauge(
    "dualauth_push_trusted",
    "Processes serving mirrored cache entries from memory (`push`, its channel trusted).",
    multiprocess_mode="livesum",
)
_PUSH_LOCAL = PUSH_READS.labels(source="local")
_PUSH_REDIS = PUSH_READS.labels(source="redis")

LOGIN_OUTCOMES = {
    "login": "ok",
    "login_failed": "failed",
    "mfa_failed": "failed",
    "login_throttled": "throttled",
    "mfa_required": "mfa_required",
}
REFRESH_OUTCOMES = {"refresh": "ok", "refresh_repeat": "repeat"}
# The providers' audit events (common/providers/), as outcomes of PROVIDER_EVENTS.
PROVIDER_OUTCOMES = {
    "provider_login": "ok",
    "provider_login_failed": "failed",
    "provider_signup": "signup",
    "provider_account_exists": "account_exists",
    "provider_email_not_verified": "email_not_verified",
    "provider_linked": "linked",
    "provider_unlinked": "unlinked",
}


def audit_event_count(event: str, fields: dict[str, Any]) -> None:
    """Count the audit event `event` with its record's `fields`, and what it says of logins."""
    AUDIT_EVENTS.labels(event=event).inc()
    if event in PROVIDER_OUTCOMES:
        provider = fields.get("provider") or ""
        PROVIDER_EVENTS.labels(provider=provider, outcome=PROVIDER_OUTCOMES[event]).inc()
    if event in LOGIN_OUTCOMES:
        mode = fields.get("mode") or NO_MODE
        LOGINS.labels(mode=mode, outcome=LOGIN_OUTCOMES[event]).inc()
    elif event in ("passkey_login_failed", "provider_login_failed") and fields.get("mode"):
        # A passwordless login names its mode; a passkey as second factor is an `mfa_failed`,
        # a provider's token checked to link it is no login.
        LOGINS.labels(mode=fields["mode"], outcome="failed").inc()
    elif event in REFRESH_OUTCOMES:
        REFRESHES.labels(outcome=REFRESH_OUTCOMES[event]).inc()
    elif event == "reuse_detected":
        REUSE_DETECTED.inc()
    elif event == "revoke":
        REVOCATIONS.labels(reason=fields.get("reason") or "").inc()


def throttled_count(key: str) -> None:
    """Count a request refused by the throttle bucket `key` (`<scope>:<digest>`)."""
    THROTTLED.labels(scope=key.rsplit(":", 1)[0]).inc()


def cache_failure_count(operation: str) -> None:
    """Count a failed cache operation."""
    CACHE_FAILURES.labels(operation=operation).inc()


def cache_recovery_count() -> None:
    """Count a recovery of the cache after a failure."""
    CACHE_RECOVERIES.inc()


def push_read_count(*, local: bool) -> None:
    """Count a read of mirrored entries, served from memory (`local`) or from Redis."""
    (_PUSH_LOCAL if local else _PUSH_REDIS).inc()


def push_doubt_count(reason: str) -> None:
    """Count a doubt about the push channel."""
    PUSH_DOUBTS.labels(reason=reason).inc()


def push_state_set(*, trusted: bool) -> None:
    """Record whether this process serves mirrored entries from memory."""
    PUSH_TRUSTED.set(1 if trusted else 0)


def metrics_access_allowed(*, request: HttpRequest) -> bool:
    """Whether `request` may read the metrics: its client (past trusted proxies) is in
    METRICS_ALLOWED_NETWORKS, or it bears METRICS_TOKEN.
    """
    token = dualauth_settings.METRICS_TOKEN
    scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if token and scheme.lower() == "bearer":
        return hmac.compare_digest(presented.strip().encode(), token.encode())
    try:
        ip = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    # A dual-stack socket reports an IPv4 client as `::ffff:a.b.c.d`.
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return address_in(str(ip), dualauth_settings.METRICS_ALLOWED_NETWORKS)


def metrics_render(*, accept: str) -> tuple[bytes, str]:
    """Every metric in the format `accept` asks for (Prometheus text, else OpenMetrics), and
    its content type: summed over every worker in multiprocess mode.
    """
    registry = REGISTRY
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
