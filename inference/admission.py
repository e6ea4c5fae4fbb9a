"""Admission control for ``/predict``: how much of a worker's threads a model may hold.

A gunicorn worker answers ``HUB_SERVING_THREADS`` requests at once, one thread each, and a request
waiting for a busy model server parks its thread. So that no model can take the threads that others
and the control plane need:

- ``HUB_CONTROL_THREADS`` of them are never given to ``/predict``: ``/health``, ``/setup``,
  ``/webhook``, the gateway's ``/health`` and the admin always find a free thread;
- all models together hold at most the rest, the predict capacity;
- one model holds at most ``HUB_MODEL_SHARE`` of that capacity, counting its requests running and
  those waiting for its server's bulkhead (``registry/model_server.py``).

A ``/predict`` beyond either limit is answered at once with 503 and ``Retry-After``: it costs the
caller a retry, never a thread of the worker. The counts are per worker process, as the threads are.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings

from core.errors import HubBusy, ModelBusy


@dataclass(frozen=True)
class Limits:
    """What the predict traffic of one worker may hold, in requests (each one thread)."""

    capacity: int  # every model together
    per_model: int  # one model, running plus waiting

    @classmethod
    def of(cls, threads: int) -> Limits:
        capacity = max(1, threads - settings.HUB_CONTROL_THREADS)
        return cls(capacity=capacity, per_model=max(1, math.floor(capacity * settings.HUB_MODEL_SHARE)))


class Admission:
    """The predict requests this worker holds, by model slug; entries go when their count is zero,
    so slugs that callers make up leave nothing behind."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads  # None: settings.HUB_SERVING_THREADS
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}
        self._total = 0

    def limits(self) -> Limits:
        return Limits.of(self.threads or settings.HUB_SERVING_THREADS)

    def held(self, slug: str | None = None) -> int:
        with self._lock:
            return self._total if slug is None else self._held.get(slug, 0)

    @contextmanager
    def admit(self, slug: str) -> Iterator[None]:
        """Hold one of the model's places for the block, or raise ModelBusy / HubBusy at once."""
        limits = self.limits()
        with self._lock:
            held = self._held.get(slug, 0)
            if held >= limits.per_model:
                raise ModelBusy(
                    f"Model {slug} is busy: {held} of its requests are running or waiting in this "
                    "worker, its share. Retry after the time in Retry-After.",
                    wait=settings.HUB_BUSY_RETRY_AFTER_SECONDS,
                )
            if self._total >= limits.capacity:
                raise HubBusy(
                    f"The Hub is busy: {self._total} predictions are running or waiting in this worker. "
                    "Retry after the time in Retry-After.",
                    wait=settings.HUB_BUSY_RETRY_AFTER_SECONDS,
                )
            self._held[slug] = held + 1
            self._total += 1
        try:
            yield
        finally:
            with self._lock:
                self._total -= 1
                left = self._held[slug] - 1
                if left:
                    self._held[slug] = left
                else:
                    del self._held[slug]


admission = Admission()
