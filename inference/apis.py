"""One thin view per Label Studio ML-backend endpoint under ``/ml/<slug>``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inference import services
from inference.admission import admission
from inference.auth import ModelCallerAllowed, ModelCredentials
from inference.serializers import (
    ErrorSerializer,
    HealthSerializer,
    JobStatusInputSerializer,
    JobStatusOutputSerializer,
    MetricsSerializer,
    PredictInputSerializer,
    PredictOutputSerializer,
    SetupInputSerializer,
    SetupOutputSerializer,
    TrainInputSerializer,
    TrainOutputSerializer,
    VersionsSerializer,
    WebhookIgnoredSerializer,
    WebhookInputSerializer,
    WebhookStoredSerializer,
)
from registry.hot_path import hot_path_sync

_FAILURES = {
    400: "Invalid request (the message names the field), or an invalid label config.",
    401: "The model requires credentials: HTTP basic auth or its connection key in the URL.",
    404: "No model is registered under this slug (or no such training job).",
    500: "The model could not be loaded or failed.",
    502: "The model server answered off its contract.",
    503: "The model is disabled, its server cannot be reached, or it holds its whole share of the Hub"
    " (model_busy, hub_busy: retry after Retry-After).",
    504: "The model server did not answer in time.",
}


def _failures(*codes: int) -> dict[int, OpenApiResponse]:
    """The error answers an endpoint can give, all in the one error shape."""
    return {code: OpenApiResponse(ErrorSerializer, description=_FAILURES[code]) for code in codes}


class JsonAnswers(DefaultContentNegotiation):
    """The protocol answers JSON whatever the caller accepts: matching the Accept header against the
    one renderer cost every call about as much as rendering the answer."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class ProtocolApi(APIView):
    """Open by default; a model registered with "require credentials" needs basic auth or its key."""

    authentication_classes = [ModelCredentials]
    permission_classes = [ModelCallerAllowed]
    content_negotiation_class = JsonAnswers

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        hot_path_sync()  # before the permission check, which reads the cached model
        super().initial(request, *args, **kwargs)


def _valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    data: dict[str, Any] = serializer.validated_data
    return data


class HealthApi(ProtocolApi):
    @extend_schema(
        operation_id="model_health", responses={200: HealthSerializer, **_failures(401, 404, 500, 503)}
    )
    def get(self, request: Request, slug: str, key: str | None = None) -> Response:
        return Response(services.model_health(slug=slug))


class SetupApi(ProtocolApi):
    @extend_schema(
        request=SetupInputSerializer, responses={200: SetupOutputSerializer, **_failures(400, 401, 404, 503)}
    )
    def post(self, request: Request, slug: str, key: str | None = None) -> Response:
        data = _valid(SetupInputSerializer, request)
        version = services.model_setup(
            slug=slug,
            uid=data.get("project"),
            schema=data.get("schema"),
            hostname=data.get("hostname"),
            access_token=data.get("access_token"),
            extra_params=data.get("extra_params"),
        )
        return Response({"model_version": version})


class PredictApi(ProtocolApi):
    @extend_schema(
        request=PredictInputSerializer,
        responses={200: PredictOutputSerializer, **_failures(400, 401, 404, 500, 502, 503, 504)},
    )
    def post(self, request: Request, slug: str, key: str | None = None) -> Response:
        # Admitted before the body is even parsed: a model over its share costs the worker nothing.
        with admission.admit(slug):
            data = _valid(PredictInputSerializer, request)
            results = services.model_predict(
                slug=slug,
                tasks=data["tasks"],
                uid=data.get("project"),
                label_config=data.get("label_config"),
                params=data.get("params") or {},
            )
        return Response({"results": results})


class WebhookApi(ProtocolApi):
    @extend_schema(
        request=WebhookInputSerializer,
        responses={
            200: OpenApiResponse(
                WebhookIgnoredSerializer, description="An event the model does not learn from."
            ),
            201: OpenApiResponse(WebhookStoredSerializer, description="Stored; a training run is asked for."),
            **_failures(400, 401, 404),
        },
    )
    def post(self, request: Request, slug: str, key: str | None = None) -> Response:
        data = _valid(WebhookInputSerializer, request)
        code, body = services.model_webhook(slug=slug, action=data["action"], payload=dict(request.data))
        return Response(body, status=code)


class TrainApi(ProtocolApi):
    @extend_schema(
        request=TrainInputSerializer, responses={201: TrainOutputSerializer, **_failures(400, 401, 404)}
    )
    def post(self, request: Request, slug: str, key: str | None = None) -> Response:
        data = _valid(TrainInputSerializer, request)
        job = services.model_train_legacy(slug=slug, payload=dict(request.data), uid=data.get("project"))
        body = {"status": "ok", "job": str(job.pk)} if job else {"status": "stored"}
        return Response(body, status=status.HTTP_201_CREATED)


class JobStatusApi(ProtocolApi):
    @extend_schema(
        request=JobStatusInputSerializer,
        responses={200: JobStatusOutputSerializer, **_failures(400, 401, 404)},
    )
    def post(self, request: Request, slug: str, key: str | None = None) -> Response:
        data = _valid(JobStatusInputSerializer, request)
        return Response(services.model_job_status(slug=slug, job_id=data["job"]))


class VersionsApi(ProtocolApi):
    @extend_schema(operation_id="model_versions", responses={200: VersionsSerializer, **_failures(401, 404)})
    def get(self, request: Request, slug: str, key: str | None = None) -> Response:
        return Response({"versions": services.model_versions(slug=slug)})


class MetricsApi(ProtocolApi):
    @extend_schema(operation_id="model_metrics", responses={200: MetricsSerializer, **_failures(401, 404)})
    def get(self, request: Request, slug: str, key: str | None = None) -> Response:
        return Response(services.model_metrics(slug=slug))
