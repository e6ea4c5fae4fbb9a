"""Prometheus metrics at the gateway's ``/metrics``.

Under gunicorn every worker writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` (set by
``hubsite/gunicorn.conf.py``) and a scrape adds them up, whichever worker answers it. Without it
(``runserver``, the tests' Django client) the process's own registry is served.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# The protocol's URL names (inference/urls.py) start so; the rest of the name is the endpoint label.
PROTOCOL_URL_PREFIX = "model-"
UNKNOWN_MODEL = "unknown"  # a slug that names no model must not make a series of its own
# Called after each protocol call of a registered model with its slug, endpoint, status and seconds, so
# the registry keeps its own rollup without this module knowing of it (a plain list: a Signal's dispatch
# costs more than the rollup itself).
ProtocolCallObserver = Callable[[str, str, int, float], None]
PROTOCOL_CALL_OBSERVERS: list[ProtocolCallObserver] = []


def observe_protocol_calls(observer: ProtocolCallObserver) -> None:
    if observer not in PROTOCOL_CALL_OBSERVERS:
        PROTOCOL_CALL_OBSERVERS.append(observer)


REQUESTS = Counter(
    "hub_requests",
    "Protocol requests answered, by model, endpoint and HTTP status.",
    ["model", "endpoint", "status"],
)
ERRORS = Counter(
    "hub_request_errors",
    "Protocol requests that failed, by model, endpoint and error code.",
    ["model", "endpoint", "code"],
)
LATENCY = Histogram(
    "hub_request_duration_seconds",
    "Time to answer a protocol request, by model and endpoint.",
    ["model", "endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 100),
)
IN_FLIGHT = Gauge(
    "hub_requests_in_flight",
    "Protocol requests being answered, by model and endpoint.",
    ["model", "endpoint"],
    multiprocess_mode="livesum",
)
PREDICTION_CACHE = Counter(
    "hub_prediction_cache",
    "Tasks answered from the prediction cache (hit) or computed (miss).",
    ["model", "result"],
)
PREDICTION_CACHE_ERRORS = Counter(
    "hub_prediction_cache_errors",
    "Prediction cache reads and writes that failed (answered as misses), by operation.",
    ["operation"],
)
TASK_ERRORS = Counter(
    "hub_task_errors", "Tasks of a /predict that got no prediction because a model call failed.", ["model"]
)


class JobQueueCollector(Collector):
    """Training jobs waiting and running, read from the database at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from registry.models import TrainingJob

        depth = GaugeMetricFamily(
            "hub_job_queue_depth", "Training jobs by status (queued, running).", labels=["status"]
        )
        active = (TrainingJob.Status.QUEUED, TrainingJob.Status.RUNNING)
        try:
            counts = dict(
                TrainingJob.objects.filter(status__in=active).values_list("status").annotate(n=Count("id"))
            )
        except DatabaseError:
            return  # the scrape still shows every other metric
        for status in active:
            depth.add_metric([status], counts.get(status, 0))
        yield depth


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        from prometheus_client import REGISTRY as registry
    return registry


# Read from the database by the worker that answers the scrape, so never added up across workers.
JOB_QUEUE_REGISTRY = CollectorRegistry()
JOB_QUEUE_REGISTRY.register(JobQueueCollector())


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.HUB_METRICS_TOKEN
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        response = JsonResponse(
            {"error": "The metrics need the bearer token.", "code": "not_authenticated"}, status=401
        )
        response["WWW-Authenticate"] = "Bearer"
        return response
    body = generate_latest(_registry()) + generate_latest(JOB_QUEUE_REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


class ProtocolMetricsMiddleware:
    """Counts, times and tracks in flight every protocol request (``/ml/<slug>/...``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        labels: tuple[str, str] | None = getattr(request, "_hub_metric_labels", None)
        if labels is None:
            return response
        model, endpoint = labels
        seconds = time.perf_counter() - started
        IN_FLIGHT.labels(model, endpoint).dec()
        LATENCY.labels(model, endpoint).observe(seconds)
        REQUESTS.labels(model, endpoint, str(response.status_code)).inc()
        if response.status_code >= 400:
            ERRORS.labels(model, endpoint, _error_code(response)).inc()
        if model != UNKNOWN_MODEL:
            for observer in PROTOCOL_CALL_OBSERVERS:
                observer(model, endpoint, response.status_code, seconds)
        return response

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], view_args: Any, view_kwargs: dict[str, Any]
    ) -> None:
        url_name = request.resolver_match.url_name if request.resolver_match else None
        if not url_name or not url_name.startswith(PROTOCOL_URL_PREFIX):
            return
        from registry.hot_path import cached_model

        slug = str(view_kwargs.get("slug", ""))
        # Label by slug only for registered models: made-up slugs all share one series.
        labels = (
            slug if cached_model(slug) is not None else UNKNOWN_MODEL,
            url_name.removeprefix(PROTOCOL_URL_PREFIX),
        )
        request._hub_metric_labels = labels  # type: ignore[attr-defined]
        IN_FLIGHT.labels(*labels).inc()


def _error_code(response: HttpResponse) -> str:
    data = getattr(response, "data", None)
    code = data.get("code") if isinstance(data, dict) else None
    if isinstance(code, str):
        return code
    return f"http_{response.status_code}"
