"""A per-process memo that threads can share: bounded, the oldest entry forgotten first."""

import threading
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
# What no caller can have put: a miss, even for a remembered None.
_ABSENT = object()


class BoundedMemo(Generic[K, V]):
    """At most `size` entries; safe under gthread workers, lock-free to read.

    A hit takes no lock: neither a `get`, nor a `put` of the value already remembered.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value remembered for `key`, or None."""
        return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        """Remember `value` for `key`, forgetting the oldest entry when full."""
        if self._items.get(key, _ABSENT) == value:
            return
        with self._lock:
            # Every change happens under the lock, so the iteration below never
            # sees the dict change size, as it would between two threads unguarded.
            while len(self._items) >= self.size and key not in self._items:
                del self._items[next(iter(self._items))]
            self._items[key] = value

    def discard(self, key: K) -> None:
        """Forget `key`, if remembered."""
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
