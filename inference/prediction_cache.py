"""Finished predictions kept per task, so that the same task asked again is not recomputed.

A key names everything an answer depends on: the model and the version Label Studio sees
(registered and trained), the project, the model's state there (``registry.hot_path.state_stamp``,
renewed by every ``set()``, finished training and version switch), the project's mappings and
thresholds (external models), the label config, and the task's data. Changing any of them asks the
model again; nothing has to be deleted.

The store is Django's cache: per worker by default, shared by every worker when ``HUB_CACHE_URL``
names Redis. It is an optimisation only: when the store fails, a read is a miss and a write is
skipped, the failure is counted (``hub_prediction_cache_errors``) and logged once per outage, and
the store is left alone for ``HUB_CACHE_RETRY_SECONDS`` so that an unreachable Redis costs requests
nothing meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches

from core.metrics import PREDICTION_CACHE_ERRORS
from registry.hot_path import cached_mappings
from registry.kinds import Prediction
from registry.label_config import config_hash
from registry.models import ModelProject, RegisteredModel

logger = logging.getLogger(__name__)

CACHE_ALIAS = "predictions"


def _mapping_version(model: RegisteredModel, link: ModelProject) -> str:
    """A digest of what turns an external model's classes into the project's labels."""
    rows = sorted((m.model_class.name, m.from_name, m.label, m.threshold) for m in cached_mappings(link))
    return hashlib.sha256(json.dumps([model.threshold, rows]).encode()).hexdigest()[:16]


def _model_identity(model: RegisteredModel, version: str) -> str:
    """The version string, and what runs: a model deleted and registered again under its slug
    starts at the same version, and a queryset update may change code without a new version."""
    runs = [model.pk, model.kind, model.import_path, model.url, model.params, model.request_extra]
    return (
        f"{version}:{hashlib.sha256(json.dumps(runs, sort_keys=True, default=str).encode()).hexdigest()[:16]}"
    )


def prediction_keys(
    *,
    model: RegisteredModel,
    version: str,
    link: ModelProject | None,
    state: str,
    mapped: bool,
    label_config: str,
    tasks: list[dict[str, Any]],
) -> list[str]:
    """One key per task. ``link`` is the model in the project (None without a project), ``state``
    its state stamp, ``mapped`` whether the output goes through the project's class mappings."""
    project = f"{link.pk}:{state}:{_mapping_version(model, link) if mapped else ''}" if link else ""
    prefix = f"{_model_identity(model, version)}\n{project}\n{config_hash(label_config)}\n"
    return [
        "prediction:"
        + hashlib.sha256(
            (prefix + json.dumps(task.get("data"), sort_keys=True, default=str)).encode()
        ).hexdigest()
        for task in tasks
    ]


class _StoreHealth:
    """Whether the store is failing: the first failure of an outage is logged, later ones only
    counted, and the store is not tried again for ``HUB_CACHE_RETRY_SECONDS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures = 0  # in the current outage; 0: the store works
        self._retry_at = 0.0

    def usable(self) -> bool:
        return self._failures == 0 or time.monotonic() >= self._retry_at

    def failed(self, operation: str, exc: Exception) -> None:
        PREDICTION_CACHE_ERRORS.labels(operation).inc()
        with self._lock:
            first = self._failures == 0
            self._failures += 1
            self._retry_at = time.monotonic() + settings.HUB_CACHE_RETRY_SECONDS
        if first:
            logger.warning(
                "The prediction cache failed (%s: %s: %s); predictions are computed without it "
                "until it answers again",
                operation,
                type(exc).__name__,
                exc,
            )

    def answered(self) -> None:
        if self._failures == 0:
            return
        with self._lock:
            failures, self._failures = self._failures, 0
        if failures:
            logger.warning("The prediction cache answers again after %d failed call(s)", failures)


store_health = _StoreHealth()


def cached_predictions(keys: list[str]) -> dict[str, list[Prediction]]:
    """The stored answers among ``keys``; none when the store fails or is resting after a failure."""
    if not store_health.usable():
        return {}
    try:
        found: dict[str, list[Prediction]] = caches[CACHE_ALIAS].get_many(keys)
    except Exception as exc:  # whatever the backend raises, a cache that fails is a miss
        store_health.failed("read", exc)
        return {}
    store_health.answered()
    return found


def predictions_store(answers: dict[str, list[Prediction]]) -> None:
    """Keep ``answers``, or skip it when the store fails."""
    if not answers or not store_health.usable():
        return
    try:
        caches[CACHE_ALIAS].set_many(answers, timeout=settings.HUB_PREDICTION_CACHE_SECONDS)
    except Exception as exc:  # whatever the backend raises, the answer is given without the cache
        store_health.failed("write", exc)
        return
    store_health.answered()
