"""Prometheus metrics at the gateway's ``/metrics``.

Under gunicorn every worker writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` (set by
``hubsite/gunicorn.conf.py``) and a scrape adds them up, whichever worker answers it. Without it
(``runserver``, the tests' Django client) the process's own registry is served.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from core.throttle import client_address

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


# Whether a slug names a registered model, added by the registry at ready time. A slug none of them
# knows is labelled ``unknown``, so made-up slugs never make series of their own.
SlugCheck = Callable[[str], bool]
REGISTERED_SLUG_CHECKS: list[SlugCheck] = []


def label_models_by(is_registered: SlugCheck) -> None:
    if is_registered not in REGISTERED_SLUG_CHECKS:
        REGISTERED_SLUG_CHECKS.append(is_registered)


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


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        from prometheus_client import REGISTRY as registry
    return registry


# Collectors read by the worker that answers the scrape (from the database, say), so never added up
# across workers. Apps add theirs at ready time with ``register_scrape_time_collector``.
SCRAPE_TIME_REGISTRY = CollectorRegistry()
_scrape_time_collectors: set[type[Collector]] = set()


def register_scrape_time_collector(collector: Collector) -> None:
    """Serve ``collector`` at every scrape; once per collector class, however often an app is readied."""
    if type(collector) not in _scrape_time_collectors:
        _scrape_time_collectors.add(type(collector))
        SCRAPE_TIME_REGISTRY.register(collector)


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text. With ``HUB_METRICS_TOKEN``, for whoever brings it as a bearer token; without
    it, only for clients on this machine (``client_address``, so behind ``HUB_NUM_PROXIES`` proxies a
    client the proxy forwards is not local): the metrics name every model."""
    token = settings.HUB_METRICS_TOKEN
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        response = JsonResponse(
            {"error": "The metrics need the bearer token.", "code": "not_authenticated"}, status=401
        )
        response["WWW-Authenticate"] = "Bearer"
        return response
    if not token and not _loopback(client_address(request)):
        return JsonResponse(
            {
                "error": "The metrics answer only this machine: set HUB_METRICS_TOKEN to scrape them "
                "from elsewhere with 'Authorization: Bearer <token>'.",
                "code": "permission_denied",
            },
            status=403,
        )
    body = generate_latest(_registry()) + generate_latest(SCRAPE_TIME_REGISTRY)
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
        slug = str(view_kwargs.get("slug", ""))
        # Label by slug only for registered models: made-up slugs all share one series.
        labels = (
            slug if any(check(slug) for check in REGISTERED_SLUG_CHECKS) else UNKNOWN_MODEL,
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
