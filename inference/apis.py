"""One thin view per Label Studio ML-backend endpoint under ``/ml/<slug>``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inference import services
from inference.auth import ModelCallerAllowed, ModelCredentials
from inference.serializers import (
    JobStatusInputSerializer,
    PredictInputSerializer,
    SetupInputSerializer,
    TrainInputSerializer,
    WebhookInputSerializer,
)
from registry.hot_path import hot_path_sync


class ProtocolApi(APIView):
    """Open by default; a model registered with "require credentials" needs basic auth or its key."""

    authentication_classes = [ModelCredentials]
    permission_classes = [ModelCallerAllowed]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        hot_path_sync()  # before the permission check, which reads the cached model
        super().initial(request, *args, **kwargs)


def _valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    data: dict[str, Any] = serializer.validated_data
    return data


class HealthApi(ProtocolApi):
    @extend_schema(operation_id="model_health", responses={200: dict})
    def get(self, request: Request, slug: str, key: str | None = None) -> Response:
        return Response(services.model_health(slug=slug))


class SetupApi(ProtocolApi):
    @extend_schema(request=SetupInputSerializer, responses={200: dict})
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
    @extend_schema(request=PredictInputSerializer, responses={200: dict})
    def post(self, request: Request, slug: str, key: str | None = None) -> Response:
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
    @extend_schema(request=WebhookInputSerializer, responses={200: dict, 201: dict})
    def post(self, request: Request, slug: str, key: str | None = None) -> Response:
        data = _valid(WebhookInputSerializer, request)
        code, body = services.model_webhook(slug=slug, action=data["action"], payload=dict(request.data))
        return Response(body, status=code)


class TrainApi(ProtocolApi):
    @extend_schema(request=TrainInputSerializer, responses={201: dict})
    def post(self, request: Request, slug: str, key: str | None = None) -> Response:
        data = _valid(TrainInputSerializer, request)
        job = services.model_train_legacy(slug=slug, payload=dict(request.data), uid=data.get("project"))
        body = {"status": "ok", "job": str(job.pk)} if job else {"status": "stored"}
        return Response(body, status=status.HTTP_201_CREATED)


class JobStatusApi(ProtocolApi):
    @extend_schema(request=JobStatusInputSerializer, responses={200: dict})
    def post(self, request: Request, slug: str, key: str | None = None) -> Response:
        data = _valid(JobStatusInputSerializer, request)
        return Response(services.model_job_status(slug=slug, job_id=data["job"]))


class VersionsApi(ProtocolApi):
    @extend_schema(operation_id="model_versions", responses={200: dict})
    def get(self, request: Request, slug: str, key: str | None = None) -> Response:
        return Response({"versions": services.model_versions(slug=slug)})


class MetricsApi(ProtocolApi):
    @extend_schema(operation_id="model_metrics", responses={200: dict})
    def get(self, request: Request, slug: str, key: str | None = None) -> Response:
        return Response(services.model_metrics(slug=slug))
