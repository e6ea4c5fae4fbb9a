"""Per-worker protections around calls to a remote server: a bulkhead (a bounded number of calls in
flight, with a bounded wait for a place) and a circuit breaker (refuse at once after failures in a row,
then let one probe through)."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings

from core.errors import CircuitOpen, ModelBusy

_bulkheads: dict[tuple[Hashable, int], threading.BoundedSemaphore] = {}
_bulkheads_lock = threading.Lock()


@contextmanager
def bulkhead(key: Hashable, *, size: int, patience: float, name: str) -> Iterator[None]:
    """At most ``size`` calls under ``key`` in flight in this worker, across requests. A call waits at
    most ``patience`` seconds for a place, then fails with ModelBusy naming ``name``."""
    with _bulkheads_lock:
        semaphore = _bulkheads.setdefault((key, size), threading.BoundedSemaphore(size))
    if not semaphore.acquire(timeout=patience):
        raise ModelBusy(
            f"{name} is busy: no place among its {size} concurrent calls came free within {patience:g} s.",
            wait=settings.HUB_BUSY_RETRY_AFTER_SECONDS,
        )
    try:
        yield
    finally:
        semaphore.release()


@dataclass
class CircuitBreaker:
    """Closed: calls go through. ``HUB_BREAKER_FAILURES`` failed calls in a row open it: calls are
    refused at once for ``HUB_BREAKER_COOLDOWN_SECONDS``, then one probe call goes through while
    the others are still refused; the probe's success closes it, its failure opens it again."""

    subject: str  # what fails, as the refusal names it: "The server of model x"
    failures: int = 0  # in a row
    opened_at: float | None = None  # time.monotonic() of the last opening; None when closed
    probing: bool = False
    last_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _refusal(self) -> CircuitOpen | None:
        """Why a call now would be refused, if it would; call with the lock held."""
        if self.opened_at is None:
            return None
        last = self.last_error.rstrip(".")
        reason = f"{self.subject} failed {self.failures} calls in a row (last: {last})"
        if self.probing:
            return CircuitOpen(f"{reason}; a probe call is under way.")
        remaining = self.opened_at + settings.HUB_BREAKER_COOLDOWN_SECONDS - time.monotonic()
        if remaining > 0:
            return CircuitOpen(f"{reason}; the Hub calls it again in {remaining:.1f} s.")
        return None

    def check(self) -> None:
        """Raise CircuitOpen if a call now would be refused (without taking the probe's place)."""
        with self._lock:
            refusal = self._refusal()
        if refusal is not None:
            raise refusal

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Around one call: refuse it while open, count how it ended."""
        with self._lock:
            refusal = self._refusal()
            if refusal is not None:
                raise refusal
            probe = self.opened_at is not None
            if probe:
                self.probing = True
        try:
            yield
        except ModelBusy:
            # The call never reached the server: nothing to learn about it.
            if probe:
                with self._lock:
                    self.probing = False
            raise
        except Exception as exc:
            self._ended(probe, failure=str(getattr(exc, "detail", exc)) or type(exc).__name__)
            raise
        self._ended(probe, failure=None)

    def _ended(self, probe: bool, failure: str | None) -> None:
        with self._lock:
            if probe:
                self.probing = False
            if failure is None:
                self.failures, self.opened_at = 0, None
                return
            self.failures += 1
            self.last_error = failure
            # Only a success resets the count, so a failed probe opens the breaker again.
            if self.failures >= settings.HUB_BREAKER_FAILURES:
                self.opened_at = time.monotonic()


_breakers: dict[Hashable, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(key: Hashable, *, subject: str) -> CircuitBreaker:
    """The breaker under ``key`` in this worker process, made with ``subject`` the first time."""
    with _breakers_lock:
        return _breakers.setdefault(key, CircuitBreaker(subject=subject))
