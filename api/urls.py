"""Routes of the REST API under /api/ (no trailing slashes, as the protocol's); each view is an
``api.auth.TokenApi``. Pre-annotation jobs (``preannotations``) are the jobs app's routes."""

from __future__ import annotations

from django.urls import include, path

from api.views import models, projects, token, training

MODEL = "models/<slug:slug>"
PROJECT = f"{MODEL}/projects/<int:project>"

urlpatterns = [
    path("token", token.TokenInfoApi.as_view(), name="api-token"),
    path("models", models.ModelListApi.as_view(), name="api-models"),
    path(MODEL, models.ModelDetailApi.as_view(), name="api-model"),
    path(f"{MODEL}/enable", models.ModelEnableApi.as_view(), name="api-model-enable"),
    path(f"{MODEL}/disable", models.ModelDisableApi.as_view(), name="api-model-disable"),
    path(f"{MODEL}/fetch-classes", models.ModelFetchClassesApi.as_view(), name="api-model-fetch-classes"),
    path(f"{MODEL}/test", models.ModelTestApi.as_view(), name="api-model-test"),
    path(f"{MODEL}/connection-key", models.ModelConnectionKeyApi.as_view(), name="api-model-key"),
    path(f"{MODEL}/projects", projects.ModelProjectListApi.as_view(), name="api-model-projects"),
    path(f"{PROJECT}/mappings", projects.MappingsApi.as_view(), name="api-mappings"),
    path(f"{PROJECT}/training", projects.TrainingStartApi.as_view(), name="api-training-start"),
    path(f"{MODEL}/versions", projects.VersionListApi.as_view(), name="api-versions"),
    path(
        f"{MODEL}/versions/<int:number>/activate",
        projects.VersionActivateApi.as_view(),
        name="api-version-activate",
    ),
    path("training-jobs", training.TrainingJobListApi.as_view(), name="api-training-jobs"),
    path("training-jobs/<int:job>", training.TrainingJobApi.as_view(), name="api-training-job"),
    path(
        "training-jobs/<int:job>/cancel", training.TrainingJobCancelApi.as_view(), name="api-training-cancel"
    ),
    path("", include("jobs.urls")),  # preannotations
]
