"""Who a client is, and a per-worker throttle of failed credential checks: the one rule behind the
protocol's basic-auth and connection-key checks (``registry/access.py``) and the REST API's tokens
(``api/auth.py``); the admin's login lockout and ``/metrics`` name clients the same way.

A key (a client address, or a client and a model) that has ``limit`` failures within the last
``window`` seconds, checks still in flight included, is refused before any check runs, until its
oldest failure leaves the window. Counting the checks in flight keeps concurrent guesses within the
bound too. What it remembers is bounded, whatever callers send.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import cast

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

MAX_TRACKED_KEYS = 65_536
_IDENT = BaseThrottle()


def client_address(request: HttpRequest | Request) -> str | None:
    """The client's address: the peer's, or behind ``NUM_PROXIES`` (``HUB_NUM_PROXIES``) proxies the
    one the farthest of them appended to X-Forwarded-For; None for a request made in-process."""
    address = _IDENT.get_ident(cast(Request, request))  # it reads only headers and META
    return cast(str | None, address)


class FailureThrottle:
    """Recent failures and checks in flight per key. ``limit`` and ``window`` are read at each check
    (from settings, so a test or an operator's change applies at once)."""

    def __init__(self, limit: Callable[[], int], window: Callable[[], float]) -> None:
        self._limit, self._window = limit, window
        self._lock = threading.Lock()
        self._failures: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self._in_flight: dict[Hashable, int] = {}

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._in_flight.clear()

    def admit(self, key: Hashable) -> int:
        """0 when one check for ``key`` may run (call ``settle`` after it), else the whole seconds
        until it may (a ``Retry-After``)."""
        now, window = time.monotonic(), self._window()
        with self._lock:
            failures = self._failures.get(key)
            while failures and failures[0] <= now - window:
                failures.popleft()
            used = len(failures or ()) + self._in_flight.get(key, 0)
            if used >= self._limit():
                wait = failures[0] + window - now if failures else 1.0
                return max(1, math.ceil(wait))
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            return 0

    def settle(self, key: Hashable, *, ok: bool) -> None:
        """End a check that ``admit`` let run; a failure is remembered for the window."""
        now = time.monotonic()
        with self._lock:
            remaining = self._in_flight.get(key, 1) - 1
            if remaining:
                self._in_flight[key] = remaining
            else:
                self._in_flight.pop(key, None)
            if ok:
                return
            failures = self._failures.setdefault(key, deque(maxlen=max(self._limit(), 1)))
            failures.append(now)
            self._failures.move_to_end(key)
            while len(self._failures) > MAX_TRACKED_KEYS:
                self._failures.popitem(last=False)
