"""The prediction cache is an optimisation: its Redis stopping or failing turns reads into misses
and skips writes, counted and logged once per outage, and every /predict is still answered."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from inference import prediction_cache
from tests.conftest import register
from tests.inference.test_prediction_cache import asked, fresh_model_calls, predict, tasks
from tests.reliability.private_servers import PrivateRedis

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]
__all__ = ["fresh_model_calls"]  # the autouse fixture of the cache tests applies here too


@pytest.fixture
def redis_cache(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateRedis]:
    """A Redis server of this test's own as the prediction cache, with the retry pause off so that
    every request meets the outage."""
    server = PrivateRedis(tmp_path)
    server.start()
    settings.CACHES = {
        **settings.CACHES,
        "predictions": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
    settings.HUB_CACHE_RETRY_SECONDS = 0
    monkeypatch.setattr(prediction_cache, "store_health", prediction_cache._StoreHealth())
    yield server
    server.stop()


def cache_errors(operation: str) -> float:
    value = REGISTRY.get_sample_value("hub_prediction_cache_errors_total", {"operation": operation})
    return value or 0.0


def outage_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == prediction_cache.__name__]


def test_a_stopped_redis_makes_every_predict_a_counted_miss_logged_once(
    redis_cache: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    register("recorder", "tests.models.protocol.BatchRecordingModel")
    predict(tasks(1))
    predict(tasks(1))
    assert asked() == [1]  # the second answer came from Redis
    reads, writes = cache_errors("read"), cache_errors("write")

    redis_cache.stop()
    with caplog.at_level(logging.WARNING, logger=prediction_cache.__name__):
        answers = [predict(tasks(1)) for _ in range(5)]

    assert all(a[0]["result"][0]["value"]["text"] == ["1"] for a in answers)
    assert asked() == [1] * 6  # each one computed
    assert (cache_errors("read") - reads, cache_errors("write") - writes) == (5, 5)
    logged = outage_logs(caplog)
    assert len(logged) == 1 and "prediction cache failed" in logged[0], logged

    caplog.clear()
    redis_cache.start()
    with caplog.at_level(logging.WARNING, logger=prediction_cache.__name__):
        predict(tasks(1))
        predict(tasks(1))
    assert asked() == [1] * 7  # stored again once Redis answered, then served from it
    assert outage_logs(caplog) == ["The prediction cache answers again after 10 failed call(s)"]


def test_after_a_failure_the_store_rests_and_requests_do_not_wait_for_it(
    redis_cache: PrivateRedis, settings: Any
) -> None:
    settings.HUB_CACHE_RETRY_SECONDS = 3600
    register("recorder", "tests.models.protocol.BatchRecordingModel")
    redis_cache.stop()
    reads = cache_errors("read")

    for _ in range(3):
        predict(tasks(1))

    assert cache_errors("read") - reads == 1  # tried once, then left alone
    assert asked() == [1, 1, 1]
