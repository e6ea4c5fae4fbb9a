"""Traffic counters of models and of models in projects, added up in memory and written in batches.

Writing them with every /predict would make every request a write transaction on the same two
rows: on SQLite the one writer lock, on PostgreSQL a row lock that all workers queue on. Instead
each worker adds up what it served and a daemon thread writes the sums every
``HUB_COUNTER_FLUSH_SECONDS`` (one UPDATE per row touched). A worker killed outright loses at most
that interval of counts; they are statistics, not events (events are stored before they are
acknowledged). With the setting at 0 every call writes at once.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F
from django.utils import timezone

from registry.models import ModelProject, RegisteredModel

logger = logging.getLogger(__name__)


@dataclass
class PendingCounts:
    added: Counter[str] = field(default_factory=Counter)
    last_error: str = ""
    last_error_at: datetime | None = None
    seen_at: datetime | None = None


class CounterBuffer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[type[Any], int], PendingCounts] = {}
        self._flusher: threading.Thread | None = None

    def add(self, row: RegisteredModel | ModelProject, counts: dict[str, int], last_error: str) -> None:
        now = timezone.now()
        with self._lock:
            pending = self._pending.setdefault((type(row), row.pk), PendingCounts())
            pending.added.update({name: n for name, n in counts.items() if n})
            if last_error:
                pending.last_error, pending.last_error_at = last_error[:2000], now
            if isinstance(row, ModelProject):
                pending.seen_at = now
            if self._flusher is None and settings.HUB_COUNTER_FLUSH_SECONDS > 0:
                self._flusher = threading.Thread(target=self._run, name="hub-counters", daemon=True)
                self._flusher.start()
        if settings.HUB_COUNTER_FLUSH_SECONDS <= 0:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        try:
            for (table, pk), counts in list(pending.items()):
                changes: dict[str, Any] = {name: F(name) + n for name, n in counts.added.items()}
                if counts.last_error:
                    changes.update(last_error=counts.last_error, last_error_at=counts.last_error_at)
                if counts.seen_at:
                    changes["last_seen_at"] = counts.seen_at
                if changes:
                    table.objects.filter(pk=pk).update(**changes)
                del pending[(table, pk)]
        except DatabaseError:
            self._restore(pending)  # written by the next flush instead
            raise

    def _restore(self, unwritten: dict[tuple[type[Any], int], PendingCounts]) -> None:
        with self._lock:
            for key, counts in unwritten.items():
                pending = self._pending.setdefault(key, PendingCounts())
                pending.added.update(counts.added)
                if counts.last_error and not pending.last_error:
                    pending.last_error, pending.last_error_at = counts.last_error, counts.last_error_at
                pending.seen_at = pending.seen_at or counts.seen_at

    def _run(self) -> None:
        while True:
            interval = settings.HUB_COUNTER_FLUSH_SECONDS
            time.sleep(interval if interval > 0 else 1.0)
            try:
                self.flush()
            except DatabaseError:  # the database may be restarting; the next round tries again
                logger.warning("Writing traffic counters failed; kept for the next round", exc_info=True)
            finally:
                # One short write a round: a connection kept between rounds would hold one of the
                # database's connections per worker for nothing.
                connection.close()


counter_buffer = CounterBuffer()
atexit.register(counter_buffer.flush)
