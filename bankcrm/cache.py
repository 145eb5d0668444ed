"""A small process-local cache with a time to live, for values every request or sweep
needs and that change rarely (a source's decrypted secrets, a calendar's hours). Each
process keeps its own copy: a change made in this process is forgotten at once
(`forget()`, from a save signal); other processes see it within the TTL."""

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TTLCache(Generic[V]):
    def __init__(self, seconds: float, max_entries: int | None = None):
        self.seconds = seconds
        self.max_entries = max_entries  # past it, the stale entries go, then all if need be
        self._values: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        """The value for `key`, loaded (and kept) when missing or stale. A None loaded is
        not kept: misses are cheap to repeat and may be anyone's guesses."""
        now = time.monotonic()
        hit = self._values.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        if value is not None:
            with self._lock:
                if self.max_entries is not None and len(self._values) >= self.max_entries:
                    self._values = {k: v for k, v in self._values.items() if v[0] > now}
                    if len(self._values) >= self.max_entries:
                        self._values.clear()
                self._values[key] = (now + self.seconds, value)
        return value

    def forget(self, *args, **kwargs) -> None:
        """Drop everything (takes any arguments, so it can be a signal receiver)."""
        with self._lock:
            self._values.clear()
