"""What every registry model shares: the cache-invalidating queryset, the per-worker cache stamp, and
the traffic counters."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.dispatch import Signal

# Sent after a queryset update changed cached fields (saves and deletes have Django's own signals).
stamped_rows_updated = Signal()
# The fields of TrafficCounters, in the order pages and answers show them.
COUNTER_FIELDS = (
    "predictions_total",
    "unmapped_total",
    "dropped_regions_total",
    "errors_total",
    "last_error",
    "last_error_at",
)
# Fields that move with traffic (counters, last-seen times, check results): no cache reads them.
VOLATILE_FIELDS = frozenset(
    {
        *COUNTER_FIELDS,
        "last_seen_at",
        "last_check_ok",
        "last_check_latency_ms",
        "last_check_error",
        "last_checked_at",
        "results_total",
        "last_result_at",
    }
)


class StampedQuerySet(models.QuerySet):  # type: ignore[type-arg]
    """Updates of anything but traffic fields tell the per-worker caches (``registry.hot_path``)."""

    def update(self, **kwargs: Any) -> int:
        rows = super().update(**kwargs)
        if rows and not set(kwargs) <= VOLATILE_FIELDS:
            stamped_rows_updated.send(sender=self.model)
        return rows


class TrafficCounters(models.Model):
    """The traffic counters of a model, overall or in one project; ``registry.counters`` adds to them in
    batches, and they are in ``VOLATILE_FIELDS`` so no cache reads them."""

    predictions_total = models.PositiveBigIntegerField(default=0, editable=False)
    dropped_regions_total = models.PositiveBigIntegerField(default=0, editable=False)
    unmapped_total = models.PositiveBigIntegerField(default=0, editable=False)
    errors_total = models.PositiveBigIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, editable=False)

    class Meta:
        abstract = True


class HubStamp(models.Model):
    """A token that changes whenever something the protocol endpoints cache per worker changes.

    Each request compares it (one indexed read) with the token its worker cached under, so an
    admin's edit reaches every worker at its next request instead of after a timer.
    """

    name = models.CharField(max_length=32, primary_key=True)
    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"{self.name}: {self.token}"
