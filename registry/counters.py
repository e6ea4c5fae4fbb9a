"""Traffic counters of models and of models in projects, added up in memory and written in batches.

Writing them with every /predict would make every request a write transaction on the same two
rows: on SQLite the one writer lock, on PostgreSQL a row lock that all workers queue on. Instead
each worker adds up what it served and a daemon thread writes the sums every
``HUB_COUNTER_FLUSH_SECONDS`` (one UPDATE per row touched). A worker killed outright loses at most
that interval of counts; they are statistics, not events (events are stored before they are
acknowledged). With the setting at 0 every call writes at once.

The same flush writes the per-minute traffic rollup of each model (``TrafficMinute``: calls, failed
calls, tasks, failed tasks, /predict latency histogram) and the results seen per class and project
(``ClassMapping.results_total``), and prunes rollup rows older than ``HUB_TRAFFIC_RETENTION_DAYS``.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection
from django.db.models import F
from django.utils import timezone

from registry.models import ClassMapping, ModelProject, RegisteredModel, TrafficMinute
from registry.models.traffic import LATENCY_EDGES_MS, LATENCY_FIELDS

logger = logging.getLogger(__name__)


@dataclass
class PendingCounts:
    added: Counter[str] = field(default_factory=Counter)
    last_error: str = ""
    last_error_at: datetime | None = None
    seen_at: datetime | None = None


# The rollup's columns, in the order of PendingMinute.counts: a list of ints is the cheapest thing to add
# to on every protocol call.
MINUTE_FIELDS = ("requests", "errors", "tasks", "task_errors", *LATENCY_FIELDS)
REQUESTS, ERRORS, TASKS, TASK_ERRORS, FIRST_LATENCY = range(5)


@dataclass
class PendingMinute:
    counts: list[int] = field(default_factory=lambda: [0] * len(MINUTE_FIELDS))
    last_error: str = ""


_minute_now: tuple[int, datetime] = (0, datetime.min)


def _this_minute() -> datetime:
    """The current minute (UTC), built once a minute rather than on every call."""
    global _minute_now
    number = int(time.time() // 60)
    if _minute_now[0] != number:
        _minute_now = (number, datetime.fromtimestamp(number * 60, tz=UTC))
    return _minute_now[1]


# How often a worker deletes rollup rows past their retention (any worker may; the delete is idempotent).
PRUNE_INTERVAL = timedelta(minutes=5)
MinuteKey = tuple[int, datetime]
ClassKey = tuple[int, str]


class CounterBuffer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[type[Any], int], PendingCounts] = {}
        self._minutes: dict[MinuteKey, PendingMinute] = {}
        self._class_results: dict[ClassKey, int] = {}
        self._pruned_at: datetime | None = None
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
            else:  # a model's tasks also go into its minute of the rollup
                minute = self._minute(row.pk, now.replace(second=0, microsecond=0))
                minute.counts[TASKS] += counts.get("predictions_total", 0)
                minute.counts[TASK_ERRORS] += counts.get("errors_total", 0)
                if last_error:
                    minute.last_error = last_error[:2000]
        self._written_soon()

    def add_request(self, model_id: int, *, failed: bool, predict_seconds: float | None) -> None:
        """One protocol call of a model, for its minute of the rollup; /predict calls give their duration."""
        key = (model_id, _this_minute())
        with self._lock:
            minute = self._minutes.get(key) or self._minute(*key)
            minute.counts[REQUESTS] += 1
            if failed:
                minute.counts[ERRORS] += 1
            if predict_seconds is not None:
                minute.counts[FIRST_LATENCY + bisect_left(LATENCY_EDGES_MS, predict_seconds * 1000)] += 1
        self._written_soon()

    def add_class_results(self, link_id: int, results: Counter[str]) -> None:
        """Results a model gave per class (by name) in one project, mapped or not."""
        with self._lock:
            for name, n in results.items():
                self._class_results[(link_id, name)] = self._class_results.get((link_id, name), 0) + n
        self._written_soon()

    def _minute(self, model_id: int, minute: datetime) -> PendingMinute:
        """The pending counts of a model's minute (the caller holds the lock)."""
        pending = self._minutes.get((model_id, minute))
        if pending is None:
            pending = self._minutes[(model_id, minute)] = PendingMinute()
        return pending

    def _written_soon(self) -> None:
        if settings.HUB_COUNTER_FLUSH_SECONDS <= 0:
            self.flush()
            return
        if self._flusher is None:
            with self._lock:
                if self._flusher is None:
                    self._flusher = threading.Thread(target=self._run, name="hub-counters", daemon=True)
                    self._flusher.start()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            minutes, self._minutes = self._minutes, {}
            class_results, self._class_results = self._class_results, {}
        self._flush_rows(pending)
        self._flush_class_results(class_results)
        if minutes:  # only processes that serve traffic prune it (not every command's exit)
            self._flush_minutes(minutes)
            self._prune()

    def _flush_rows(self, pending: dict[tuple[type[Any], int], PendingCounts]) -> None:
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

    def _flush_minutes(self, minutes: dict[MinuteKey, PendingMinute]) -> None:
        if not minutes:
            return
        live = set(
            RegisteredModel.objects.filter(pk__in={pk for pk, _ in minutes}).values_list("pk", flat=True)
        )
        try:
            # Every worker adds to the same row: create it if missing, then add in the database.
            TrafficMinute.objects.bulk_create(
                [TrafficMinute(model_id=pk, minute=minute) for pk, minute in minutes if pk in live],
                ignore_conflicts=True,
            )
        except IntegrityError:  # a model deleted since: its counts go with it
            logger.info("A model of the traffic rollup was deleted; its last counts are dropped")
            return
        except DatabaseError:
            self._restore_minutes(minutes)
            raise
        try:
            for (pk, minute), pending in list(minutes.items()):
                changes: dict[str, Any] = {
                    name: F(name) + n for name, n in zip(MINUTE_FIELDS, pending.counts, strict=True) if n
                }
                if pending.last_error:
                    changes["last_error"] = pending.last_error
                if pk in live and changes:
                    TrafficMinute.objects.filter(model_id=pk, minute=minute).update(**changes)
                del minutes[(pk, minute)]
        except DatabaseError:
            self._restore_minutes(minutes)
            raise

    def _flush_class_results(self, class_results: dict[ClassKey, int]) -> None:
        now = timezone.now()
        try:
            for (link_id, name), n in list(class_results.items()):
                ClassMapping.objects.filter(model_project_id=link_id, model_class__name=name).update(
                    results_total=F("results_total") + n, last_result_at=now
                )
                del class_results[(link_id, name)]
        except DatabaseError:
            with self._lock:
                for key, n in class_results.items():
                    self._class_results[key] = self._class_results.get(key, 0) + n
            raise

    def _prune(self) -> None:
        now = timezone.now()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_INTERVAL:
            return
        self._pruned_at = now
        cutoff = now - timedelta(days=settings.HUB_TRAFFIC_RETENTION_DAYS)
        TrafficMinute.objects.filter(minute__lt=cutoff).delete()

    def _restore_minutes(self, unwritten: dict[MinuteKey, PendingMinute]) -> None:
        with self._lock:
            for key, counts in unwritten.items():
                pending = self._minute(*key)
                pending.counts = [a + b for a, b in zip(pending.counts, counts.counts, strict=True)]
                pending.last_error = pending.last_error or counts.last_error

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
