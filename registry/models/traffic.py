"""The per-model, per-minute traffic rollup behind the admin's charts (written by ``registry.counters``)."""

from __future__ import annotations

from django.db import models

from registry.models.model import RegisteredModel

# Upper edges (ms) of the /predict latency histogram; one more bucket holds everything slower.
LATENCY_EDGES_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
LATENCY_FIELDS = (*(f"le_{edge}ms" for edge in LATENCY_EDGES_MS), "over_10000ms")


class TrafficMinute(models.Model):
    """What one model served in one minute, summed over every worker; rows older than
    ``HUB_TRAFFIC_RETENTION_DAYS`` are pruned by the counters flush, so the table stays bounded.

    ``requests`` and ``errors`` count protocol calls (errors: answered 4xx or 5xx); ``tasks`` and
    ``task_errors`` count the tasks of /predict calls and those a model failure left empty; the
    ``le_*`` columns are a histogram of /predict latency (each call in the first bucket it fits)."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="traffic")
    minute = models.DateTimeField(db_index=True)
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    tasks = models.PositiveIntegerField(default=0)
    task_errors = models.PositiveIntegerField(default=0)
    le_10ms = models.PositiveIntegerField(default=0)
    le_25ms = models.PositiveIntegerField(default=0)
    le_50ms = models.PositiveIntegerField(default=0)
    le_100ms = models.PositiveIntegerField(default=0)
    le_250ms = models.PositiveIntegerField(default=0)
    le_500ms = models.PositiveIntegerField(default=0)
    le_1000ms = models.PositiveIntegerField(default=0)
    le_2500ms = models.PositiveIntegerField(default=0)
    le_5000ms = models.PositiveIntegerField(default=0)
    le_10000ms = models.PositiveIntegerField(default=0)
    over_10000ms = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, help_text="The last error message of the minute.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "minute"], name="unique_traffic_minute")]
        ordering = ["-minute"]

    def __str__(self) -> str:
        return f"{self.model_id} at {self.minute:%Y-%m-%d %H:%M}"

    @property
    def latency_counts(self) -> list[int]:
        return [getattr(self, name) for name in LATENCY_FIELDS]
