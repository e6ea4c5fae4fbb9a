"""Label Studio appends these to the model URL ``/ml/<slug>``; no trailing slashes, no redirects."""

from __future__ import annotations

from django.urls import URLPattern, path

from inference import apis

# (suffix, view, name), the busiest first: routes are tried in order.
ENDPOINTS = [
    ("/predict", apis.PredictApi, "model-predict"),
    ("/health", apis.HealthApi, "model-health"),
    ("/setup", apis.SetupApi, "model-setup"),
    ("/webhook", apis.WebhookApi, "model-webhook"),
    ("", apis.HealthApi, "model-root"),
    ("/", apis.HealthApi, "model-root-slash"),
    ("/train", apis.TrainApi, "model-train"),
    ("/job_status", apis.JobStatusApi, "model-job-status"),
    ("/versions", apis.VersionsApi, "model-versions"),
    ("/metrics", apis.MetricsApi, "model-metrics"),
]


def protocol_routes(model_prefix: str) -> list[URLPattern]:
    """The endpoints under ``model_prefix`` (which captures ``slug``), as flat routes: an ``include``
    costs a second match object on every call."""
    return [path(model_prefix + suffix, view.as_view(), name=name) for suffix, view, name in ENDPOINTS]
