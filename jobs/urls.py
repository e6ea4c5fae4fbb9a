"""``/api/preannotations``: included under ``/api/`` (no trailing slashes, as the rest of the API)."""

from __future__ import annotations

from django.urls import path

from jobs import apis

urlpatterns = [
    path("preannotations", apis.PreannotationListApi.as_view(), name="api-preannotations"),
    path("preannotations/<int:job_id>", apis.PreannotationDetailApi.as_view(), name="api-preannotation"),
    path(
        "preannotations/<int:job_id>/cancel",
        apis.PreannotationCancelApi.as_view(),
        name="api-preannotation-cancel",
    ),
    path(
        "preannotations/<int:job_id>/pause",
        apis.PreannotationPauseApi.as_view(),
        name="api-preannotation-pause",
    ),
    path(
        "preannotations/<int:job_id>/resume",
        apis.PreannotationResumeApi.as_view(),
        name="api-preannotation-resume",
    ),
    path(
        "preannotations/<int:job_id>/retry",
        apis.PreannotationRetryApi.as_view(),
        name="api-preannotation-retry",
    ),
]
