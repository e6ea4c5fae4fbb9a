"""The per-minute traffic rollup: fed by every protocol call (``core.metrics``) and /predict's
counts, written by ``registry.counters``, and read here for the admin's charts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from core.metrics import observe_protocol_calls
from registry.counters import counter_buffer
from registry.hot_path import cached_model
from registry.models import LATENCY_EDGES_MS, LATENCY_FIELDS, TrafficMinute

SUMMED = ("requests", "errors", "tasks", "task_errors", *LATENCY_FIELDS)


def _record_call(model: str, endpoint: str, status: int, seconds: float) -> None:
    row = cached_model(model)
    if row is not None:
        counter_buffer.add_request(
            row.pk, failed=status >= 400, predict_seconds=seconds if endpoint == "predict" else None
        )


def connect() -> None:
    observe_protocol_calls(_record_call)


def latency_percentile(counts: list[int], quantile: float) -> float | None:
    """The latency (ms) under which ``quantile`` of the calls fell, interpolated within its histogram
    bucket; None without calls. Calls slower than the last edge count as the last edge."""
    total = sum(counts)
    if not total:
        return None
    rank = quantile * total
    seen = 0
    lower = 0.0
    for count, upper in zip(counts, (*LATENCY_EDGES_MS, LATENCY_EDGES_MS[-1]), strict=True):
        if count and seen + count >= rank:
            return round(lower + (upper - lower) * (rank - seen) / count, 1)
        seen += count
        lower = float(upper)
    return float(LATENCY_EDGES_MS[-1])


@dataclass
class TrafficSeries:
    """One model's traffic over a window, in equal steps (oldest first), and its totals."""

    labels: list[str] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    task_errors: list[int] = field(default_factory=list)
    p50: list[float | None] = field(default_factory=list)
    p99: list[float | None] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)

    def as_chart(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "requests": self.requests,
            "errors": self.errors,
            "task_errors": self.task_errors,
            "p50": self.p50,
            "p99": self.p99,
        }


def traffic_series(
    *, model_ids: list[int], hours: int = 24, steps: int = 48, now: datetime | None = None
) -> dict[int, TrafficSeries]:
    """Each model's traffic over the last ``hours``, summed into ``steps`` equal steps."""
    end = (now or timezone.now()).replace(second=0, microsecond=0) + timedelta(minutes=1)
    step = timedelta(hours=hours) / steps
    start = end - step * steps
    sums: dict[int, list[dict[str, int]]] = defaultdict(lambda: [defaultdict(int) for _ in range(steps)])
    rows = TrafficMinute.objects.filter(model_id__in=model_ids, minute__gte=start).values(
        "model_id", "minute", *SUMMED
    )
    for row in rows:
        index = min(int((row["minute"] - start) / step), steps - 1)
        bucket = sums[row["model_id"]][index]
        for name in SUMMED:
            bucket[name] += row[name]
    result: dict[int, TrafficSeries] = {}
    for model_id in model_ids:
        series = TrafficSeries()
        overall: list[int] = [0] * len(LATENCY_FIELDS)
        for index, bucket in enumerate(sums[model_id]):
            counts = [bucket[name] for name in LATENCY_FIELDS]
            overall = [a + b for a, b in zip(overall, counts, strict=True)]
            series.labels.append((start + step * index).isoformat())
            series.requests.append(bucket["requests"])
            series.errors.append(bucket["errors"])
            series.task_errors.append(bucket["task_errors"])
            series.p50.append(latency_percentile(counts, 0.5))
            series.p99.append(latency_percentile(counts, 0.99))
        series.totals = {
            "requests": sum(series.requests),
            "errors": sum(series.errors),
            "task_errors": sum(series.task_errors),
            "p50": latency_percentile(overall, 0.5),
            "p99": latency_percentile(overall, 0.99),
        }
        result[model_id] = series
    return result


def recent_errors(*, model_id: int, limit: int = 20) -> list[TrafficMinute]:
    """The model's latest minutes with an error message (within the rollup's retention), newest first."""
    return list(TrafficMinute.objects.filter(model_id=model_id).exclude(last_error="")[:limit])
