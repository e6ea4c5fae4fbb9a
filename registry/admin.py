from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from registry.models import (
    LabelStudioInstance,
    ModelProject,
    ModelState,
    Project,
    RegisteredModel,
    WebhookEvent,
)
from registry.services import model_check_connection

# Changing what runs makes a new model version, so Label Studio re-predicts with it.
VERSIONED_FIELDS = ("kind", "import_path", "params")


class HealthFilter(admin.SimpleListFilter):
    title = "last check"
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("ok", "OK"), ("error", "Error"), ("never", "Never checked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "ok":
            return queryset.filter(last_check_ok=True)
        if value == "error":
            return queryset.filter(last_check_ok=False)
        if value == "never":
            return queryset.filter(last_check_ok__isnull=True)
        return queryset


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "name",
        "slug",
        "kind",
        "enabled",
        "model_version_display",
        "healthy",
        "last_check_latency",
        "last_checked_at",
        "predictions_total",
        "dropped_regions_total",
        "errors_total",
    )
    list_filter = ("kind", "enabled", HealthFilter)
    search_fields = ("name", "slug", "import_path", "description")
    readonly_fields = (
        "model_version_display",
        "last_check_ok",
        "last_check_latency_ms",
        "last_check_error",
        "last_checked_at",
        "predictions_total",
        "dropped_regions_total",
        "errors_total",
        "created_at",
        "updated_at",
    )
    actions = ["test_connection"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "kind", "import_path", "params", "enabled", "description")}),
        ("Version", {"fields": ("version", "model_version_display")}),
        (
            "Last check",
            {"fields": ("last_check_ok", "last_check_latency_ms", "last_check_error", "last_checked_at")},
        ),
        (
            "Counters",
            {
                "fields": (
                    "predictions_total",
                    "dropped_regions_total",
                    "errors_total",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    @admin.display(description="model_version")
    def model_version_display(self, obj: RegisteredModel) -> str:
        return obj.model_version

    @admin.display(boolean=True, description="healthy")
    def healthy(self, obj: RegisteredModel) -> bool | None:
        return obj.last_check_ok

    @admin.display(description="latency")
    def last_check_latency(self, obj: RegisteredModel) -> str:
        return "" if obj.last_check_latency_ms is None else f"{obj.last_check_latency_ms:.0f} ms"

    def get_readonly_fields(self, request: HttpRequest, obj: RegisteredModel | None = None) -> Any:
        # The slug is the model's URL in Label Studio: changing it would disconnect every project.
        return (*self.readonly_fields, "slug") if obj else self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: RegisteredModel, form: forms.ModelForm[RegisteredModel], change: bool
    ) -> None:
        # Compared with the stored row rather than form.changed_data: JSON fields with callable
        # defaults report themselves changed whenever the hidden initial value is missing.
        if change and "version" not in form.changed_data:
            before = RegisteredModel.objects.filter(pk=obj.pk).values(*VERSIONED_FIELDS).first()
            if before and any(before[name] != getattr(obj, name) for name in VERSIONED_FIELDS):
                obj.version += 1
        super().save_model(request, obj, form, change)

    @admin.action(description="Test connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[RegisteredModel]) -> None:
        for model in queryset:
            result = model_check_connection(model=model)
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(request, f"{model.slug}: {result.message} ({result.latency_ms:.0f} ms)", level)


class ModelStateInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ModelState
    extra = 0
    fields = ("key", "value", "updated_at")
    readonly_fields = ("updated_at",)


@admin.register(ModelProject)
class ModelProjectAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "model",
        "project",
        "last_seen_at",
        "predictions_total",
        "dropped_regions_total",
        "errors_total",
    )
    list_filter = ("model",)
    list_select_related = ("model", "project__instance")
    search_fields = ("model__slug", "project__instance__hostname")
    readonly_fields = (
        "model",
        "project",
        "first_seen_at",
        "last_seen_at",
        "predictions_total",
        "dropped_regions_total",
        "errors_total",
    )
    inlines = [ModelStateInline]


class ModelProjectInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ModelProject
    extra = 0
    fields = ("model", "last_seen_at", "predictions_total", "dropped_regions_total", "errors_total")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("ls_project_id", "created_ts", "instance", "control_tags", "last_seen_at")
    list_filter = ("instance",)
    list_select_related = ("instance",)
    search_fields = ("ls_project_id", "instance__hostname", "label_config")
    readonly_fields = (
        "instance",
        "ls_project_id",
        "created_ts",
        "label_config",
        "parsed_config_display",
        "config_hash",
        "first_seen_at",
        "last_seen_at",
    )
    exclude = ("parsed_label_config",)
    inlines = [ModelProjectInline]

    @admin.display(description="control tags")
    def control_tags(self, obj: Project) -> str:
        return ", ".join(f"{name} ({tag.get('type')})" for name, tag in obj.parsed_label_config.items())

    @admin.display(description="parsed label config")
    def parsed_config_display(self, obj: Project) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.parsed_label_config, indent=2))


class LabelStudioInstanceForm(forms.ModelForm):  # type: ignore[type-arg]
    access_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: leave empty to keep the stored token.",
    )

    class Meta:
        model = LabelStudioInstance
        fields = ("hostname", "access_token")

    def clean_access_token(self) -> str:
        value: str = self.cleaned_data.get("access_token") or ""
        return value or (self.instance.access_token if self.instance.pk else "")


@admin.register(LabelStudioInstance)
class LabelStudioInstanceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = LabelStudioInstanceForm
    list_display = ("__str__", "has_token", "first_seen_at", "last_seen_at")
    search_fields = ("hostname",)

    @admin.display(boolean=True, description="token stored")
    def has_token(self, obj: LabelStudioInstance) -> bool:
        return bool(obj.access_token)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("received_at", "model", "action", "ls_project_id", "processed_at")
    list_filter = ("action", "model")
    list_select_related = ("model",)
    search_fields = ("action", "model__slug")
    readonly_fields = (
        "model",
        "project",
        "action",
        "ls_project_id",
        "payload",
        "payload_sha256",
        "received_at",
        "processed_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
