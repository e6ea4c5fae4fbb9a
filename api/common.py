"""What every REST API view shares: pagination, query parameters, Django validation errors as 400s, and
finding the rows a URL names (a 404 in the error shape otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from inference.serializers import MAX_ID
from registry.models import ModelProject, RegisteredModel


class ApiPagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (at most 500); answers ``{"count", "next", "previous", "results"}``."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def query_params(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:  # type: ignore[type-arg]
    """The request's query parameters, validated (a 400 with ``fields`` otherwise)."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if v is not None}


@contextmanager
def validation_as_400() -> Iterator[None]:
    """A service's ``django.core.exceptions.ValidationError`` becomes the API's 400 with ``fields``."""
    try:
        yield
    except DjangoValidationError as exc:
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise ValidationError(detail) from exc


def model_get(slug: str) -> RegisteredModel:
    model: RegisteredModel | None = (
        RegisteredModel.objects.prefetch_related("classes").filter(slug=slug).first()
    )
    if model is None:
        raise NotFound(f"No model is registered as {slug!r}.")
    return model


def model_project_get(slug: str, project: int) -> ModelProject:
    link: ModelProject | None = None
    if project <= MAX_ID:  # a larger id is in no table (and the database would refuse the query)
        link = (
            ModelProject.objects.select_related("model", "project__instance")
            .filter(model__slug=slug, project_id=project)
            .first()
        )
    if link is None:
        raise NotFound(f"Model {slug!r} has not been used in project {project}.")
    return link
