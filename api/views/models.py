"""Registered models: list, register, read, change, enable or disable, fetch classes, test, rotate key."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import TokenApi
from api.common import ApiPagination, model_get, query_params, validation_as_400
from api.schema import ERRORS, NOT_FOUND, UPSTREAM_ERRORS, WRITE_ERRORS
from api.serializers import (
    CheckResultSerializer,
    ConnectionKeySerializer,
    FetchedClassesSerializer,
    ModelFilterSerializer,
    ModelInputSerializer,
    ModelSerializer,
    ModelUpdateSerializer,
)
from registry.audit import audit_actor
from registry.models import RegisteredModel
from registry.registration import (
    registered_model_create,
    registered_model_update,
)
from registry.services import connection_key_issue, model_check_connection, model_fetch_classes

VIEW = ("registry.view_registeredmodel",)
CHANGE = ("registry.change_registeredmodel",)


def _filtered(filters: dict[str, Any]) -> QuerySet[RegisteredModel]:
    models = RegisteredModel.objects.prefetch_related("classes").order_by("slug")
    if "kind" in filters:
        models = models.filter(kind=filters["kind"])
    if "enabled" in filters:
        models = models.filter(enabled=filters["enabled"])
    health = filters.get("health")
    if health == "never":
        models = models.filter(last_check_ok__isnull=True)
    elif health:
        models = models.filter(last_check_ok=health == "ok")
    if search := filters.get("search"):
        models = models.filter(
            Q(name__icontains=search)
            | Q(slug__icontains=search)
            | Q(import_path__icontains=search)
            | Q(url__icontains=search)
            | Q(description__icontains=search)
        )
    return models


class ModelListApi(TokenApi):
    pagination_class = ApiPagination
    read_permissions = VIEW
    write_permissions = ("registry.add_registeredmodel",)

    @extend_schema(
        operation_id="models_list",
        summary="Registered models, filtered and paginated",
        parameters=[ModelFilterSerializer],
        responses={200: ModelSerializer(many=True), **WRITE_ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        paginator = ApiPagination()  # the class the schema is told of, above
        page = paginator.paginate_queryset(
            _filtered(query_params(ModelFilterSerializer, request)), request, self
        )
        return paginator.get_paginated_response(ModelSerializer(page, many=True).data)

    @extend_schema(
        operation_id="models_register",
        summary="Register a model",
        request=ModelInputSerializer,
        responses={201: ModelSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        given = ModelInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        fields = dict(given.validated_data)
        password = fields.pop("protocol_password", "")
        with validation_as_400():
            model = registered_model_create(actor=self.actor, protocol_password=password, **fields)
        return Response(ModelSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelDetailApi(TokenApi):
    read_permissions = VIEW
    write_permissions = CHANGE

    @extend_schema(
        operation_id="models_retrieve",
        summary="One registered model",
        responses={200: ModelSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(ModelSerializer(model_get(slug)).data)

    @extend_schema(
        operation_id="models_update",
        summary="Change a model (a change of what runs makes a new version)",
        request=ModelUpdateSerializer,
        responses={200: ModelSerializer, **WRITE_ERRORS, **NOT_FOUND},
    )
    def patch(self, request: Request, slug: str) -> Response:
        model = model_get(slug)
        given = ModelUpdateSerializer(model, data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        changes = dict(given.validated_data)
        password = changes.pop("protocol_password", "")
        with validation_as_400():
            registered_model_update(
                model=model, changes=changes, actor=self.actor, protocol_password=password
            )
        return Response(ModelSerializer(model).data)


def _switched(slug: str, *, enabled: bool, actor: str) -> Response:
    model = model_get(slug)
    registered_model_update(model=model, changes={"enabled": enabled}, actor=actor)
    return Response(ModelSerializer(model).data)


class ModelEnableApi(TokenApi):
    write_permissions = CHANGE

    @extend_schema(
        operation_id="models_enable",
        summary="Serve the model again",
        request=None,
        responses={200: ModelSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request, slug: str) -> Response:
        return _switched(slug, enabled=True, actor=self.actor)


class ModelDisableApi(TokenApi):
    write_permissions = CHANGE

    @extend_schema(
        operation_id="models_disable",
        summary="Stop serving the model (its protocol endpoints answer 503)",
        request=None,
        responses={200: ModelSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request, slug: str) -> Response:
        return _switched(slug, enabled=False, actor=self.actor)


class ModelFetchClassesApi(TokenApi):
    write_permissions = CHANGE

    @extend_schema(
        operation_id="models_fetch_classes",
        summary="Read a model server's classes (GET .../classes) into the model",
        request=None,
        responses={200: FetchedClassesSerializer, **WRITE_ERRORS, **NOT_FOUND, **UPSTREAM_ERRORS},
    )
    def post(self, request: Request, slug: str) -> Response:
        model = model_get(slug)
        with audit_actor(self.actor):
            fetched = model_fetch_classes(model=model)
        return Response(FetchedClassesSerializer(fetched).data)


class ModelTestApi(TokenApi):
    write_permissions = CHANGE

    @extend_schema(
        operation_id="models_test",
        summary="Test the connection: load or call the model once and record the outcome",
        request=None,
        responses={200: CheckResultSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request, slug: str) -> Response:
        result = model_check_connection(model=model_get(slug))
        return Response(CheckResultSerializer(result).data)


class ModelConnectionKeyApi(TokenApi):
    write_permissions = CHANGE

    @extend_schema(
        operation_id="models_rotate_key",
        summary="A new connection key (/ml/<slug>/k/<key>), shown once; the old one stops working",
        request=None,
        responses={201: ConnectionKeySerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request, slug: str) -> Response:
        model = model_get(slug)
        key = connection_key_issue(model=model, actor=self.actor)
        body = {"key": key, "label_studio_url": f"{model.label_studio_url}/k/{key}"}
        response = Response(ConnectionKeySerializer(body).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response
