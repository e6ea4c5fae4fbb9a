"""The per-minute traffic rollup behind the admin's charts: fed by protocol calls and /predict's
counts, written by the counters flush, summed into chart steps, and pruned after its retention."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from registry.counters import CounterBuffer
from registry.models import TrafficMinute
from registry.traffic import latency_percentile, recent_errors, traffic_series
from tests.conftest import CFG, register

pytestmark = pytest.mark.django_db


def predict(client: Client, slug: str, tasks: int = 1) -> int:
    body = {"tasks": [{"id": i, "data": {"text": "good"}} for i in range(tasks)], "label_config": CFG}
    response = client.post(f"/ml/{slug}/predict", json.dumps(body), content_type="application/json")
    return response.status_code


def test_protocol_calls_and_predicted_tasks_land_in_the_models_minute(client: Client) -> None:
    model = register("dummy", "examples.dummy.model.DummyModel")
    other = register("raising", "tests.models.protocol.RaisingModel")
    assert predict(client, "dummy", tasks=3) == 200
    assert predict(client, "dummy", tasks=2) == 200
    assert client.get("/ml/dummy/health").status_code == 200
    assert predict(client, "raising") == 500
    assert client.get("/ml/no-such-model/health").status_code == 404  # no row for made-up slugs
    [row] = TrafficMinute.objects.filter(model=model)
    assert (row.requests, row.errors, row.tasks, row.task_errors) == (3, 0, 5, 0)
    assert sum(row.latency_counts) == 2  # /predict calls only; /health is not in the histogram
    assert row.minute.second == 0 and timezone.now() - row.minute < timedelta(minutes=2)
    [failed] = TrafficMinute.objects.filter(model=other)
    assert (failed.requests, failed.errors, failed.task_errors) == (1, 1, 1)
    assert "no_such_key" in failed.last_error
    assert [m.pk for m in recent_errors(model_id=other.pk)] == [failed.pk]
    assert TrafficMinute.objects.count() == 2


def test_minutes_from_several_flushes_add_up_in_one_row(settings: Any) -> None:
    settings.HUB_COUNTER_FLUSH_SECONDS = 3600  # flushed by hand
    model = register("dummy", "examples.dummy.model.DummyModel")
    first, second = CounterBuffer(), CounterBuffer()  # two workers
    first.add_request(model.pk, failed=False, predict_seconds=0.004)
    second.add_request(model.pk, failed=True, predict_seconds=0.3)
    second.add_request(model.pk, failed=False, predict_seconds=None)
    assert not TrafficMinute.objects.exists()
    first.flush()
    second.flush()
    [row] = TrafficMinute.objects.all()
    assert (row.requests, row.errors, row.le_10ms, row.le_500ms) == (3, 1, 1, 1)


def test_rows_past_the_retention_are_pruned_by_the_flush(settings: Any) -> None:
    settings.HUB_TRAFFIC_RETENTION_DAYS = 2
    model = register("dummy", "examples.dummy.model.DummyModel")
    now = timezone.now().replace(second=0, microsecond=0)
    old = TrafficMinute.objects.create(model=model, minute=now - timedelta(days=2, minutes=1), requests=1)
    kept = TrafficMinute.objects.create(model=model, minute=now - timedelta(days=1), requests=1)
    buffer = CounterBuffer()
    buffer.flush()
    assert TrafficMinute.objects.count() == 2  # a process that served nothing prunes nothing
    buffer.add_request(model.pk, failed=False, predict_seconds=None)
    buffer.flush()
    assert old.pk not in set(TrafficMinute.objects.values_list("pk", flat=True))
    assert kept.pk in set(TrafficMinute.objects.values_list("pk", flat=True))


def test_percentiles_are_read_from_the_histogram() -> None:
    assert latency_percentile([0] * 11, 0.5) is None
    # 100 calls between 10 and 25 ms: the median is halfway through that bucket.
    assert latency_percentile([0, 100, *([0] * 9)], 0.5) == 17.5
    # 98 fast calls and 2 in the last bucket: p99 is in the slowest bucket, p50 in the first.
    counts = [98, *([0] * 9), 2]
    assert latency_percentile(counts, 0.5) is not None and latency_percentile(counts, 0.5) <= 10  # type: ignore[operator]
    assert latency_percentile(counts, 0.99) == 10000.0


def test_the_series_sums_minutes_into_steps_oldest_first() -> None:
    model = register("dummy", "examples.dummy.model.DummyModel")
    now = timezone.now().replace(second=0, microsecond=0)
    TrafficMinute.objects.create(model=model, minute=now, requests=4, errors=1, le_50ms=4)
    TrafficMinute.objects.create(model=model, minute=now - timedelta(minutes=10), requests=2, le_50ms=2)
    TrafficMinute.objects.create(model=model, minute=now - timedelta(hours=3), requests=7, le_1000ms=7)
    TrafficMinute.objects.create(model=model, minute=now - timedelta(hours=30), requests=100)  # outside
    series = traffic_series(model_ids=[model.pk], hours=24, steps=24, now=now)[model.pk]
    assert len(series.requests) == 24
    assert series.requests[-1] == 6 and series.errors[-1] == 1
    assert series.requests[-4] == 7  # 3 h ago, in steps of an hour ending a minute from now
    assert series.totals["requests"] == 13 and series.totals["errors"] == 1
    assert series.p50[-1] is not None and 25 < series.p50[-1] <= 50
    assert series.p50[0] is None  # no calls in that step
