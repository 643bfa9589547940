"""The per-address throttle of the public account and second-factor endpoints, as a DRF
throttle class.
"""

from typing import Any

from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from common.services import account_throttle


class AccountAddressThrottle(BaseThrottle):
    """ACCOUNT_REQUESTS_PER_ADDRESS calls of the view's `throttle_scope` per client address.

    It runs before the body is read, so that malformed calls count too; shared by every
    instance through the cache.
    """

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        """Count this call; False once the address is over its limit."""
        try:
            account_throttle(endpoint=view.throttle_scope, request=request._request)
        except Throttled as e:
            # DRF sets `wait` (seconds) on every Throttled; its stubs do not say so.
            self._wait = getattr(e, "wait", None)
            return False
        return True

    def wait(self) -> float | None:
        """Seconds until the window ends, once refused."""
        return self._wait
