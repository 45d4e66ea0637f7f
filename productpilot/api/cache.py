"""A small time-bounded cache for facts the API checks on every request.

Authenticating a key and checking a product's owner cost a query each, on every ingest
request. Both facts change rarely, so the API remembers them for a few seconds: a revoked
key or a deleted product stops working within ``ttl_seconds`` instead of at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class TtlCache(Generic[Value]):
    """Maps keys to values for ``ttl_seconds``, holding at most ``size`` entries.

    Example:
        >>> cache = TtlCache[int](ttl_seconds=30)
        >>> cache.get("k"), cache.put("k", 7), cache.get("k")
        (None, None, 7)
    """

    def __init__(
        self,
        ttl_seconds: float,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Value]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Value | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= self._clock():
                del self._entries[key]
                return None
            return value

    def put(self, key: Hashable, value: Value) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
