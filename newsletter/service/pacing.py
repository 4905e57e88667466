"""Pacing a sending process: its send rate (per second and per hour, shared by every run in the
process) and the cap on messages per SMTP connection."""

from __future__ import annotations

import threading
import time

from newsletter.email.transports import Envelope, Transport


class SendRateLimiter:
    """Messages per second and per hour across this process's connections (0: no limit)."""

    def __init__(self, per_second: float, per_hour: int) -> None:
        self.per_second = per_second
        self.per_hour = per_hour
        self._lock = threading.Lock()
        self._next = time.monotonic()
        self._hour_start = time.monotonic()
        self._hour_count = 0

    def wait(self, stop: threading.Event, max_wait: float | None = None) -> bool:
        """Wait for a slot; True when one was taken, False when ``max_wait`` seconds passed
        (or ``stop`` was set) first."""
        if not self.per_second and not self.per_hour:
            return True
        deadline = None if max_wait is None else time.monotonic() + max_wait
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            with self._lock:
                now = time.monotonic()
                if now - self._hour_start >= 3600:
                    self._hour_start, self._hour_count = now, 0
                delay = 0.0
                if self.per_hour and self._hour_count >= self.per_hour:
                    delay = self._hour_start + 3600 - now
                elif self.per_second and now < self._next:
                    delay = self._next - now
                else:
                    self._hour_count += 1
                    if self.per_second:
                        self._next = max(now, self._next) + 1.0 / self.per_second
                    return True
            stop.wait(min(delay, 1.0))
        return False


_limiters: dict[tuple[float, int], SendRateLimiter] = {}
_limiters_lock = threading.Lock()


def process_limiter(per_second: float, per_hour: int) -> SendRateLimiter:
    """The rate limiter of this process for these limits, shared by every run in it."""
    with _limiters_lock:
        return _limiters.setdefault((per_second, per_hour), SendRateLimiter(per_second, per_hour))


class CappedTransport:
    """A transport whose connection is closed (and opened again) every ``cap`` messages."""

    def __init__(self, inner: Transport, cap: int) -> None:
        self.inner = inner
        self.cap = cap
        self.count = 0

    def send(self, envelope: Envelope) -> str:
        if self.count >= self.cap:
            self.inner.close()
            self.count = 0
        self.count += 1
        return self.inner.send(envelope)

    def close(self) -> None:
        self.inner.close()
        self.count = 0
