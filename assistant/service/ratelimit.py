"""A per-key rate limit: at most N events per key in any 60 seconds (Slack users, web clients)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimit:
    """At most `per_minute` events per key (a user, a client address) in any 60 seconds; thread-safe."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        if per_minute < 1:
            raise ValueError(f"the rate limit must be at least 1 a minute, got {per_minute}")
        self.per_minute = per_minute
        self._clock = clock
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, user: str) -> float:
        """0 and the event counted when `user` may go on now, else the seconds until they may."""
        now = self._clock()
        with self._lock:
            for key in [key for key, times in self._times.items() if times[-1] <= now - 60]:
                del self._times[key]  # forget users idle for a minute, so the table stays small
            times = self._times.setdefault(user, deque())
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= self.per_minute:
                return times[0] + 60 - now
            times.append(now)
            return 0.0
