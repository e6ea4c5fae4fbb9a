"""Trained versions: listed under their model in a project, activated (rolled back) from their list."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from registry.admin.base import AuditedAdmin, ReadOnlyInline, user_actor
from registry.models import ModelVersion
from registry.services import model_version_activate


class ModelVersionInline(ReadOnlyInline):
    model = ModelVersion
    fields = ("number", "metrics", "job", "created_at")


@admin.register(ModelVersion)
class ModelVersionAdmin(AuditedAdmin):
    list_display = ("__str__", "model_project", "number", "is_active", "created_at")
    list_filter = ("model_project__model",)
    list_select_related = ("model_project__model", "model_project__project__instance")
    readonly_fields = ("model_project", "number", "metrics", "state", "job", "created_at")
    actions = ["activate"]

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: ModelVersion) -> bool:
        return obj.model_project.active_version == obj.number

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Roll back (or forward) to this version")
    def activate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for version in queryset.select_related("model_project__model"):
            activate_version(self, request, version)


def activate_version(model_admin: admin.ModelAdmin[Any], request: HttpRequest, version: ModelVersion) -> None:
    """Serve this version in its project, as the signed-in user (the list action and the model's page)."""
    model_version_activate(version=version, actor=user_actor(request))
    model_admin.message_user(
        request, f"{version.model_project} now serves version {version.number}.", messages.SUCCESS
    )
