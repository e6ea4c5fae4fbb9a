"""Training jobs: list, status, cancel (they start from a model in a project, api.views.projects)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import TokenApi
from api.common import ApiPagination, query_params
from api.schema import ERRORS, NOT_FOUND, WRITE_ERRORS
from api.serializers import TrainingJobFilterSerializer, TrainingJobSerializer
from core.errors import HubError
from inference.serializers import ErrorSerializer
from registry.models import TrainingJob
from training.services import training_cancel

VIEW = ("registry.view_trainingjob",)


class JobFinished(HubError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "job_finished"


def _jobs() -> QuerySet[TrainingJob]:
    return TrainingJob.objects.select_related("model_project__model")


def _job_get(job_id: int) -> TrainingJob:
    job: TrainingJob | None = _jobs().filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"No training job {job_id}.")
    return job


class TrainingJobListApi(TokenApi):
    pagination_class = ApiPagination
    read_permissions = VIEW

    @extend_schema(
        operation_id="training_jobs_list",
        summary="Training jobs, newest first",
        parameters=[TrainingJobFilterSerializer],
        responses={200: TrainingJobSerializer(many=True), **WRITE_ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        filters = query_params(TrainingJobFilterSerializer, request)
        jobs = _jobs()
        if "model" in filters:
            jobs = jobs.filter(model_project__model__slug=filters["model"])
        if "project" in filters:
            jobs = jobs.filter(model_project__project_id=filters["project"])
        if "status" in filters:
            jobs = jobs.filter(status=filters["status"])
        paginator = ApiPagination()  # the class the schema is told of, above
        page = paginator.paginate_queryset(jobs.order_by("-created_at", "-pk"), request, self)
        return paginator.get_paginated_response(TrainingJobSerializer(page, many=True).data)


class TrainingJobApi(TokenApi):
    read_permissions = VIEW

    @extend_schema(
        operation_id="training_jobs_retrieve",
        summary="A training job's status, progress and last log lines",
        responses={200: TrainingJobSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, job: int) -> Response:
        return Response(TrainingJobSerializer(_job_get(job)).data)


class TrainingJobCancelApi(TokenApi):
    write_permissions = ("registry.change_trainingjob",)

    @extend_schema(
        operation_id="training_jobs_cancel",
        summary="Cancel a job: a queued one at once, a running one at its next progress report",
        request=None,
        responses={
            202: TrainingJobSerializer,
            409: OpenApiResponse(ErrorSerializer, description="The job has already finished."),
            **ERRORS,
            **NOT_FOUND,
        },
    )
    def post(self, request: Request, job: int) -> Response:
        found = _job_get(job)
        if not training_cancel(job=found, actor=self.actor):
            raise JobFinished(f"Training job {job} has already finished ({found.status}).")
        found.refresh_from_db()
        return Response(TrainingJobSerializer(found).data, status=status.HTTP_202_ACCEPTED)
