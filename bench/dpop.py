"""The `jwt-header+dpop` row: DPoP-bound logins, and requests each with a proof of its own.

A proof works once (the server's replay cache records its `jti`) and `wrk` cannot sign, so
the bench signs the proofs beforehand, for the server's URL, just before each measurement
(their `iat` stays well within `DPOP_IAT_LEEWAY`), and `wrk` sends each request of the list
once (bench/requests.lua). A run that used them all is made again with twice as many.
"""

import uuid
from dataclasses import dataclass
from itertools import cycle, islice
from typing import Any

from bench.load import Request

# Proofs signed per second of a measurement at first: above what 2 cores serve.
PROOFS_PER_SECOND = 2000


@dataclass(frozen=True)
class BoundLogins:
    """DPoP-bound `jwt-header` logins: each one's key, and its access token."""

    path: str
    logins: tuple[tuple[Any, str], ...]

    def signed(self, base_url: str, count: int) -> tuple[Request, ...]:
        """`count` requests to `base_url`, the logins in turn, each with a proof of its own."""
        url = f"{base_url}{self.path}"
        return tuple(
            Request(
                self.path,
                {
                    "Authorization": f"DPoP {token}",
                    "DPoP": key.proof(method="GET", url=url, access_token=token),
                },
            )
            for key, token in islice(cycle(self.logins), count)
        )


def bound_logins(users: list[Any]) -> BoundLogins:
    """One `jwt-header` login per user bound to a P-256 key of its own, as the mobile client
    makes them (clients/mobile/dpop.py), through dualauth's login service.
    """
    from django.db import transaction

    from bench.seed import login_request
    from clients.mobile.dpop import DpopKey
    from common.routes import JWT_HEADER, mode_path
    from jwt_auth.dpop import DpopProof
    from jwt_auth.services import token_obtain

    logins = []
    with transaction.atomic():
        for user in users:
            key = DpopKey.generate()
            proof = DpopProof(jkt=key.thumbprint, jti=uuid.uuid4().hex)
            pair = token_obtain(user=user, request=login_request(), mode=JWT_HEADER, proof=proof)
            logins.append((key, pair.access))
    return BoundLogins(mode_path(JWT_HEADER, "profile"), tuple(logins))
