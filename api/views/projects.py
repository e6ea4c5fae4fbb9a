"""A model in its projects: which projects, class mappings, trained versions, and starting training."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import TokenApi
from api.common import ApiPagination, model_get, model_project_get, query_params, validation_as_400
from api.schema import ERRORS, NOT_FOUND, WRITE_ERRORS
from api.serializers import (
    MappingChangesSerializer,
    MappingsSerializer,
    ModelProjectSerializer,
    ProjectFilterSerializer,
    TrainingJobSerializer,
    VersionFilterSerializer,
    VersionSerializer,
)
from registry.mapping import MappingChange, class_mappings_change, mapping_targets
from registry.models import ClassMapping, ModelProject, ModelVersion
from registry.services import model_version_activate
from training.services import training_start


class ModelProjectListApi(TokenApi):
    pagination_class = ApiPagination
    read_permissions = ("registry.view_modelproject",)

    @extend_schema(
        operation_id="model_projects_list",
        summary="The projects that use a model (the Hub learns them from Label Studio's /setup)",
        parameters=[ProjectFilterSerializer],
        responses={200: ModelProjectSerializer(many=True), **WRITE_ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, slug: str) -> Response:
        model = model_get(slug)
        links = ModelProject.objects.filter(model=model).select_related("model", "project__instance")
        if "ls_project_id" in (filters := query_params(ProjectFilterSerializer, request)):
            links = links.filter(project__ls_project_id=filters["ls_project_id"])
        paginator = ApiPagination()  # the class the schema is told of, above
        page = paginator.paginate_queryset(links.order_by("project_id"), request, self)
        return paginator.get_paginated_response(ModelProjectSerializer(page, many=True).data)


def _mappings(link: ModelProject) -> dict[str, Any]:
    """Every class of the model in the project: its mapping (unmapped if none yet) and possible targets."""
    stored = {m.model_class_id: m for m in ClassMapping.objects.filter(model_project=link)}
    parsed = link.parsed_label_config
    rows = []
    for model_class in link.model.classes.order_by("name"):
        mapping = stored.get(model_class.pk)
        rows.append(
            {
                "class_name": model_class.name,
                "type": model_class.type,
                "from_name": mapping.from_name if mapping else "",
                "label": mapping.label if mapping else "",
                "threshold": mapping.threshold if mapping else None,
                "automatic": mapping.automatic if mapping else False,
                "targets": [vars(t) for t in mapping_targets(model_class, parsed)],
            }
        )
    return {"project": link, "mappings": rows}


class MappingsApi(TokenApi):
    read_permissions = ("registry.view_classmapping",)
    write_permissions = ("registry.change_classmapping",)

    @extend_schema(
        operation_id="mappings_retrieve",
        summary="How a model's classes map onto a project's labels",
        responses={200: MappingsSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, slug: str, project: int) -> Response:
        return Response(MappingsSerializer(_mappings(model_project_get(slug, project))).data)

    @extend_schema(
        operation_id="mappings_update",
        summary="Map classes onto labels (checked as the admin checks them; all or none)",
        request=MappingChangesSerializer,
        responses={200: MappingsSerializer, **WRITE_ERRORS, **NOT_FOUND},
    )
    def patch(self, request: Request, slug: str, project: int) -> Response:
        link = model_project_get(slug, project)
        given = MappingChangesSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        changes = [
            MappingChange(
                class_name=item["class_name"],
                from_name=item["from_name"],
                label=item["label"],
                threshold=item.get("threshold"),
                set_threshold="threshold" in item,
            )
            for item in given.validated_data["mappings"]
        ]
        with validation_as_400():
            class_mappings_change(link=link, changes=changes, actor=self.actor)
        return Response(MappingsSerializer(_mappings(link)).data)


class TrainingStartApi(TokenApi):
    write_permissions = ("registry.change_modelproject",)

    @extend_schema(
        operation_id="training_start",
        summary="Train the model on the project's annotations now (joins a queued or running job)",
        request=None,
        responses={202: TrainingJobSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request, slug: str, project: int) -> Response:
        job = training_start(link=model_project_get(slug, project), actor=self.actor)
        return Response(TrainingJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class VersionListApi(TokenApi):
    pagination_class = ApiPagination
    read_permissions = ("registry.view_modelversion",)

    @extend_schema(
        operation_id="versions_list",
        summary="A model's trained versions (numbered per model across its projects), newest first",
        parameters=[VersionFilterSerializer],
        responses={200: VersionSerializer(many=True), **WRITE_ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, slug: str) -> Response:
        model = model_get(slug)
        versions = ModelVersion.objects.filter(model_project__model=model).select_related(
            "model_project__model"
        )
        if "project" in (filters := query_params(VersionFilterSerializer, request)):
            versions = versions.filter(model_project__project_id=filters["project"])
        paginator = ApiPagination()  # the class the schema is told of, above
        page = paginator.paginate_queryset(versions.order_by("-number"), request, self)
        return paginator.get_paginated_response(VersionSerializer(page, many=True).data)


class VersionActivateApi(TokenApi):
    write_permissions = ("registry.change_modelversion",)

    @extend_schema(
        operation_id="versions_activate",
        summary="Serve this trained version in its project (roll back or forward)",
        request=None,
        responses={200: VersionSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request, slug: str, number: int) -> Response:
        version = (
            ModelVersion.objects.select_related("model_project__model")
            .filter(model_project__model__slug=slug, number=number)
            .first()
        )
        if version is None:
            raise NotFound(f"Model {slug!r} has no trained version {number}.")
        model_version_activate(version=version, actor=self.actor)
        return Response(VersionSerializer(version).data)
