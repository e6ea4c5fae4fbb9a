"""REST for pre-annotation jobs (``/api/preannotations``), behind the API's admin-issued tokens;
each view calls one service of ``jobs.services``."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import TokenApi
from api.common import ApiPagination, query_params
from api.schema import ERRORS, NOT_FOUND, WRITE_ERRORS
from inference.serializers import ErrorSerializer
from jobs import services
from jobs.models import PreannotationJob
from jobs.selectors import preannotation_job_get, preannotation_job_state, preannotation_jobs_list
from jobs.serializers import (
    PreannotationFilterSerializer,
    PreannotationJobSerializer,
    PreannotationStartSerializer,
)

CONFLICT = {
    409: OpenApiResponse(ErrorSerializer, description="Not in this state (e.g. resuming a finished job).")
}
UPSTREAM = {
    502: OpenApiResponse(ErrorSerializer, description="Label Studio refused the key or answered badly."),
    503: OpenApiResponse(
        ErrorSerializer, description="Label Studio is unreachable, or the model is disabled."
    ),
    504: OpenApiResponse(ErrorSerializer, description="Label Studio did not answer in time."),
}


def _job(job_id: int) -> PreannotationJob:
    job = preannotation_job_get(job_id=job_id)
    if job is None:
        raise Http404(f"No pre-annotation job {job_id}.")
    return job


def _answer(job: PreannotationJob, code: int = status.HTTP_200_OK) -> Response:
    fresh = _job(job.pk)
    return Response(PreannotationJobSerializer(preannotation_job_state(fresh)).data, status=code)


class PreannotationListApi(TokenApi):
    pagination_class = ApiPagination
    read_permissions = ("jobs.view_preannotationjob",)
    write_permissions = ("jobs.add_preannotationjob",)

    @extend_schema(
        operation_id="preannotation_list",
        summary="Pre-annotation jobs, newest first, filtered and paginated",
        parameters=[PreannotationFilterSerializer],
        responses={200: PreannotationJobSerializer(many=True), **WRITE_ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        jobs = preannotation_jobs_list(**query_params(PreannotationFilterSerializer, request))
        paginator = ApiPagination()  # the class the schema is told of, above
        page = paginator.paginate_queryset(jobs, request, self)
        return paginator.get_paginated_response(
            PreannotationJobSerializer(
                [preannotation_job_state(job, failures=0) for job in page or []], many=True
            ).data
        )

    @extend_schema(
        operation_id="preannotation_start",
        summary="Pre-annotate a Label Studio project in the background",
        description="Queues a job for one model over one project's tasks (all, the listed ids, or a Data "
        "Manager view's): predictions are computed as /predict computes them and written into Label Studio "
        "in bulk, tagged with the model's version. Label Studio is asked for the project at once, so a wrong "
        "URL, key or project id is refused here. Follow it with GET /api/preannotations/{id}.",
        request=PreannotationStartSerializer,
        responses={202: PreannotationJobSerializer, **WRITE_ERRORS, **NOT_FOUND, **UPSTREAM},
    )
    def post(self, request: Request) -> Response:
        given = PreannotationStartSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        job = services.preannotation_start(
            model_slug=data["model"],
            project_id=data["project"],
            label_studio_url=data["label_studio_url"],
            api_key=data["api_key"],
            task_ids=data.get("task_ids"),
            view_id=data.get("view_id"),
            mode=data["mode"],
            actor=self.actor,
        )
        return _answer(job, status.HTTP_202_ACCEPTED)


class PreannotationDetailApi(TokenApi):
    read_permissions = ("jobs.view_preannotationjob",)

    @extend_schema(
        operation_id="preannotation_get",
        summary="A pre-annotation job: status, counts, rate, ETA, first failures",
        responses={200: PreannotationJobSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, job_id: int) -> Response:
        return _answer(_job(job_id))


def _action_view(name: str, act: Callable[..., PreannotationJob], summary: str) -> type[TokenApi]:
    code = status.HTTP_202_ACCEPTED if name in ("resume", "retry") else status.HTTP_200_OK

    class ActionApi(TokenApi):
        write_permissions = ("jobs.change_preannotationjob",)

        @extend_schema(
            operation_id=f"preannotation_{name}",
            summary=summary,
            request=None,
            responses={code: PreannotationJobSerializer, **ERRORS, **NOT_FOUND, **CONFLICT},
        )
        def post(self, request: Request, job_id: int) -> Response:
            return _answer(act(job=_job(job_id), actor=self.actor), code)

    ActionApi.__name__ = ActionApi.__qualname__ = f"Preannotation{name.title()}Api"
    return ActionApi


PreannotationCancelApi = _action_view(
    "cancel", services.preannotation_cancel, "Cancel (queued/paused: at once; running: soon)"
)
PreannotationPauseApi = _action_view(
    "pause", services.preannotation_pause, "Pause; resume continues where it stopped"
)
PreannotationResumeApi = _action_view(
    "resume", services.preannotation_resume, "Resume a paused or failed job"
)


class PreannotationRetryApi(TokenApi):
    write_permissions = ("jobs.add_preannotationjob",)

    @extend_schema(
        operation_id="preannotation_retry",
        summary="A new job for the tasks this one could not pre-annotate",
        request=None,
        responses={202: PreannotationJobSerializer, **ERRORS, **NOT_FOUND, **CONFLICT},
    )
    def post(self, request: Request, job_id: int) -> Response:
        return _answer(
            services.preannotation_retry_failed(job=_job(job_id), actor=self.actor), status.HTTP_202_ACCEPTED
        )
