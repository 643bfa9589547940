"""Audit events as structured log records; a token or a password never enters one."""

import json
import logging
from typing import Any

from django.http import HttpRequest

from common.metrics import audit_event_count
from common.net import client_ip

logger = logging.getLogger("dualauth.audit")

STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with every `extra` field."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as one line of JSON."""
        body: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update({k: v for k, v in vars(record).items() if k not in STANDARD_ATTRS})
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def audit_event(
    event: str,
    *,
    request: HttpRequest | None = None,
    user_id: object | None = None,
    family_id: object | None = None,
    **fields: Any,
) -> None:
    """Write the audit event `event` with who, which login, and from where; count it."""
    record: dict[str, Any] = {"event": event, "user_id": user_id, "family_id": family_id}
    if request is not None:
        record["ip"] = client_ip(request)
        record["user_agent"] = request.META.get("HTTP_USER_AGENT", "")[:256]
    record.update(fields)
    logger.info(event, extra=record)
    audit_event_count(event, fields)
