"""Label Studio appends these to the model URL ``/ml/<slug>``; no trailing slashes, no redirects."""

from __future__ import annotations

from django.urls import path

from inference import apis

urlpatterns = [
    path("", apis.HealthApi.as_view(), name="model-root"),
    path("/", apis.HealthApi.as_view(), name="model-root-slash"),
    path("/health", apis.HealthApi.as_view(), name="model-health"),
    path("/setup", apis.SetupApi.as_view(), name="model-setup"),
    path("/predict", apis.PredictApi.as_view(), name="model-predict"),
    path("/webhook", apis.WebhookApi.as_view(), name="model-webhook"),
    path("/train", apis.TrainApi.as_view(), name="model-train"),
    path("/job_status", apis.JobStatusApi.as_view(), name="model-job-status"),
    path("/versions", apis.VersionsApi.as_view(), name="model-versions"),
    path("/metrics", apis.MetricsApi.as_view(), name="model-metrics"),
]
