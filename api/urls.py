"""Routes of the REST API under /api/ (no trailing slashes, as the protocol's). Pre-annotation jobs
(``preannotations``) are added here by their app."""

from __future__ import annotations

from django.urls import include, path

from api import views

urlpatterns = [
    path("token", views.TokenInfoApi.as_view(), name="api-token"),
    path("", include("jobs.urls")),
]
