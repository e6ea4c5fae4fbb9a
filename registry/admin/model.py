"""Registering a model: its form, list and actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from hubsite.errors import HubError
from registry.admin.base import WriteOnlySecretsAdmin, WriteOnlySecretsForm, user_actor
from registry.audit import audit_record
from registry.models import ModelClass, RegisteredModel
from registry.services import model_check_connection, model_fetch_classes

MODEL_SERVER_FIELDS = (
    "url",
    "classes_url",
    "auth_method",
    "auth_username",
    "auth_header_name",
    "auth_secret",
    "image_transport",
    "timeout_seconds",
    "max_concurrency",
    "threshold",
    "request_extra",
)
# Changing what runs makes a new model version, so Label Studio re-predicts with it.
VERSIONED_FIELDS = ("kind", "import_path", "params", "url", "request_extra")


class RegisteredModelForm(WriteOnlySecretsForm):
    secret_fields = ("auth_secret",)
    protocol_password = forms.CharField(
        label="basic-auth password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored hashed; leave empty to keep the current one.",
    )

    class Meta:
        model = RegisteredModel
        fields = (
            "name",
            "slug",
            "kind",
            "enabled",
            "prediction_cache",
            "description",
            "import_path",
            "params",
            *MODEL_SERVER_FIELDS,
            "version",
            "protocol_auth_required",
            "protocol_username",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if (
            cleaned.get("protocol_auth_required")
            and cleaned.get("protocol_username")
            and not (cleaned.get("protocol_password") or self.instance.protocol_password_hash)
        ):
            raise ValidationError({"protocol_password": "Set a password for the basic-auth username."})
        return cleaned

    def save(self, commit: bool = True) -> RegisteredModel:
        if self.cleaned_data.get("protocol_password"):
            self.instance.set_protocol_password(self.cleaned_data["protocol_password"])
        model: RegisteredModel = super().save(commit=commit)
        return model


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


class ModelClassInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ModelClass
    extra = 0
    fields = ("name", "type")


@admin.register(RegisteredModel)
class RegisteredModelAdmin(WriteOnlySecretsAdmin):
    form = RegisteredModelForm
    write_only_fields = ("auth_secret", "protocol_password")
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
        "unmapped_total",
        "dropped_regions_total",
        "errors_total",
    )
    list_filter = ("kind", "enabled", HealthFilter)
    search_fields = ("name", "slug", "import_path", "url", "description")
    readonly_fields = (
        "model_version_display",
        "last_check_ok",
        "last_check_latency_ms",
        "last_check_error",
        "last_checked_at",
        "predictions_total",
        "unmapped_total",
        "dropped_regions_total",
        "errors_total",
        "last_error",
        "last_error_at",
        "created_at",
        "updated_at",
    )
    inlines = [ModelClassInline]
    actions = ["test_connection", "fetch_classes", "new_connection_key"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "kind", "enabled", "prediction_cache", "description")}),
        ("Python model", {"fields": ("import_path", "params")}),
        (
            "Model server (external model or ML backend)",
            {"fields": MODEL_SERVER_FIELDS},
        ),
        ("Access", {"fields": ("protocol_auth_required", "protocol_username", "protocol_password")}),
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
                    "unmapped_total",
                    "dropped_regions_total",
                    "errors_total",
                    "last_error",
                    "last_error_at",
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

    @admin.action(description="New connection key (shown once)")
    def new_connection_key(self, request: HttpRequest, queryset: QuerySet[RegisteredModel]) -> None:
        for model in queryset:
            key = model.new_connection_key()
            RegisteredModel.objects.filter(pk=model.pk).update(connection_key_hash=model.connection_key_hash)
            audit_record(
                actor=user_actor(request),
                action="new_connection_key",
                obj=model,
                changes={"connection_key_hash": "changed"},
            )
            self.message_user(
                request,
                f"{model.slug}: connect Label Studio to {settings.HUB_PUBLIC_URL}/ml/{model.slug}/k/{key} "
                "(the key is not stored and will not be shown again).",
                messages.WARNING,
            )

    @admin.action(description="Fetch classes")
    def fetch_classes(self, request: HttpRequest, queryset: QuerySet[RegisteredModel]) -> None:
        for model in queryset:
            if not model.url:
                self.message_user(
                    request, f"{model.slug}: only model servers list their classes.", messages.WARNING
                )
                continue
            try:
                fetched = model_fetch_classes(model=model)
            except HubError as exc:
                self.message_user(
                    request, f"{model.slug}: fetching classes failed: {exc.detail}", messages.ERROR
                )
                continue
            self.message_user(
                request,
                f"{model.slug}: {fetched.total} classes ({fetched.created} new, {fetched.updated} updated).",
                messages.SUCCESS,
            )

    @admin.action(description="Test connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[RegisteredModel]) -> None:
        for model in queryset:
            result = model_check_connection(model=model)
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(request, f"{model.slug}: {result.message} ({result.latency_ms:.0f} ms)", level)
