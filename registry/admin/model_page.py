"""A registered model's page beyond its form: the registration checks run from the form (fetch classes,
test connection), version activation, and what the page shows (traffic, versions, errors, projects)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from core.errors import HubError
from registry.admin.versions import activate_version
from registry.models import ModelProject, ModelVersion, RegisteredModel
from registry.services import NotAModelServer, model_check, model_fetch_classes, model_server_classes
from registry.traffic import recent_errors, traffic_series

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[RegisteredModel]
else:
    ModelAdmin = admin.ModelAdmin

TOOLS = ("fetch-classes", "test-connection")


def _error(message: str, code: str, status: int, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, "code": code, **extra}, status=status)


def fetch_classes_with_message(model_admin: ModelAdmin, request: HttpRequest, model: RegisteredModel) -> None:
    """Store the model server's classes, reporting the outcome as a message on the next page."""
    try:
        fetched = model_fetch_classes(model=model)
    except NotAModelServer as exc:
        model_admin.message_user(request, str(exc.detail), messages.WARNING)
        return
    except HubError as exc:
        model_admin.message_user(
            request, f"{model.slug}: fetching classes failed: {exc.detail}", messages.ERROR
        )
        return
    model_admin.message_user(
        request,
        f"{model.slug}: {fetched.total} classes ({fetched.created} new, {fetched.updated} updated).",
        messages.SUCCESS,
    )


def tool_view(model_admin: ModelAdmin, request: HttpRequest, tool: str) -> JsonResponse:
    """Fetch classes or test the connection with the values in the form, saved or not.

    A saved model's fetched classes are stored; an unsaved one's are only listed (and stored on save
    when the form says so). A test records nothing on the row: the form may hold unsaved changes."""
    if request.method != "POST":
        return _error("Use POST.", "method_not_allowed", 405)
    if tool not in TOOLS:
        return _error(f"Unknown tool {tool!r}.", "not_found", 404)
    object_id = request.POST.get("_hub_object_id", "")
    obj = model_admin.get_object(request, object_id) if object_id else None
    if object_id and obj is None:
        return _error("No such model.", "not_found", 404)
    allowed = (
        model_admin.has_change_permission(request, obj) if obj else model_admin.has_add_permission(request)
    )
    if not allowed:
        return _error("You may not change models.", "permission_denied", 403)
    form = model_admin.get_form(request, obj, change=obj is not None)(request.POST, instance=obj)
    if not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        return _error("Fix the form's errors first.", "invalid", 400, fields=fields)
    model: RegisteredModel = form.save(commit=False)
    if tool == "test-connection":
        result = model_check(model=model)
        return JsonResponse(
            {
                "ok": result.ok,
                "message": result.message,
                "latency_ms": result.latency_ms,
                "details": result.details,
            }
        )
    try:
        if obj is not None:
            fetched = model_fetch_classes(model=model)
            listed = list(model.classes.values_list("name", "type"))
            message = f"{fetched.total} classes ({fetched.created} new, {fetched.updated} updated), stored."
        else:
            listed = model_server_classes(model=model)
            message = f"{len(listed)} classes; they are stored when you save."
    except NotAModelServer:
        return JsonResponse({"ok": False, "message": "Only model servers list their classes."})
    except HubError as exc:
        return JsonResponse({"ok": False, "message": f"Fetching classes failed: {exc.detail}"})
    return JsonResponse(
        {"ok": True, "message": message, "classes": [{"name": n, "type": t} for n, t in listed]}
    )


def activate_view(
    model_admin: ModelAdmin, request: HttpRequest, object_id: str, version_id: int
) -> HttpResponse:
    obj = model_admin.get_object(request, object_id)
    if obj is None:
        return _error("No such model.", "not_found", 404)
    if not model_admin.has_change_permission(request, obj):
        raise PermissionDenied
    if request.method != "POST":
        return _error("Use POST.", "method_not_allowed", 405)
    version = get_object_or_404(
        ModelVersion.objects.select_related("model_project__model", "model_project__project__instance"),
        pk=version_id,
        model_project__model=obj,
    )
    activate_version(model_admin, request, version)
    return HttpResponseRedirect(
        reverse("admin:registry_registeredmodel_change", args=[obj.pk]) + "#hub-versions"
    )


def versions_chart(versions: list[ModelVersion]) -> dict[str, Any]:
    """Each numeric training metric over the version numbers, oldest first."""
    ordered = sorted(versions, key=lambda v: v.number)
    names = sorted(
        {
            k
            for v in ordered
            for k, value in (v.metrics or {}).items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
    )
    return {
        "labels": [f"v{v.number}" for v in ordered],
        "series": [
            {"name": name, "values": [(v.metrics or {}).get(name) for v in ordered]} for name in names
        ],
    }


def page_context(model: RegisteredModel) -> dict[str, Any]:
    versions = list(
        ModelVersion.objects.filter(model_project__model=model)
        .select_related("model_project__project__instance", "job")
        .order_by("-number")[:50]
    )
    links = list(ModelProject.objects.filter(model=model).select_related("project__instance")[:100])
    series = traffic_series(model_ids=[model.pk])[model.pk]
    return {
        "hub_model": model,
        "hub_versions": [
            {
                "version": v,
                "active": v.model_project.active_version == v.number,
                "activate_url": reverse("admin:registry_registeredmodel_activate", args=[model.pk, v.pk]),
            }
            for v in versions
        ],
        "hub_version_chart": versions_chart(versions),
        "hub_errors": recent_errors(model_id=model.pk),
        "hub_links": [
            {"link": link, "url": reverse("admin:registry_modelproject_change", args=[link.pk])}
            for link in links
        ],
        "hub_traffic": series,
        "chart_data": {str(model.pk): series.as_chart()},
    }
