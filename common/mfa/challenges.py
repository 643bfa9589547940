"""Pending challenges: a login waiting for its second factor, or a WebAuthn ceremony.

The client holds a random token; the database keeps its SHA-256 only, so no row
completes anything on its own. A challenge is used by taking it: of two requests
that present one token, the one whose DELETE removed the row goes on.
"""

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone

from common.mfa.models import MfaChallenge
from common.principal import UserId


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def challenge_issue(
    *,
    purpose: str,
    lifetime: timedelta,
    user_id: UserId | None = None,
    mode: str = "",
    options: dict[str, Any] | None = None,
    webauthn_challenge: bytes | None = None,
    token: str | None = None,
) -> str:
    """Record a challenge of `purpose` for `lifetime`; the token that names it.

    `token`, when given, is a name the server derives (a login's pending registration)
    and replaces that name's earlier challenge; else the token is new and random.
    """
    now = timezone.now()
    MfaChallenge.objects.filter(expires_at__lte=now).delete()
    token = token or secrets.token_urlsafe(32)
    MfaChallenge.objects.update_or_create(
        digest=_digest(token),
        defaults={
            "purpose": purpose,
            "user_id": user_id,
            "mode": mode,
            "options": options or {},
            "webauthn_challenge": webauthn_challenge,
            "attempts": 0,
            "expires_at": now + lifetime,
        },
    )
    return token


def challenge_get(*, purpose: str, token: str) -> MfaChallenge | None:
    """The live challenge of `purpose` that `token` names, left in place; else None."""
    return MfaChallenge.objects.filter(
        digest=_digest(token), purpose=purpose, expires_at__gt=timezone.now()
    ).first()


def challenge_take(*, purpose: str, token: str) -> MfaChallenge | None:
    """Take the live challenge `token` names: it is gone for every later request; else None."""
    challenge = challenge_get(purpose=purpose, token=token)
    if challenge is None:
        return None
    deleted, _ = MfaChallenge.objects.filter(pk=challenge.pk).delete()
    return challenge if deleted else None
