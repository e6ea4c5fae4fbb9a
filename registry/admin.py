from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from hubsite.errors import HubError
from registry.audit import audit_actor, audit_record
from registry.jobs import job_cancel, training_request
from registry.mapping import class_mapping_validate, mapping_targets
from registry.models import (
    Annotation,
    AuditEvent,
    ClassMapping,
    LabelStudioInstance,
    ModelClass,
    ModelProject,
    ModelState,
    ModelVersion,
    Project,
    RegisteredModel,
    TrainingJob,
    WebhookEvent,
)
from registry.services import model_check_connection, model_fetch_classes, model_version_activate

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


def _user_actor(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


class AuditedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """What is saved or deleted through these pages (forms, inlines, actions) is the signed-in user's
    doing in the audit log."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        with audit_actor(_user_actor(request)):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        with audit_actor(_user_actor(request)):
            return super().changelist_view(request, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        with audit_actor(_user_actor(request)):
            return super().delete_view(request, object_id, extra_context)


class WriteOnlySecretsAdmin(AuditedAdmin):
    """A viewer without change permission gets every field read-only, shown with its value: so the
    secret fields are left out of their page."""

    write_only_fields: tuple[str, ...] = ()

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in self.write_only_fields]})
            for name, options in fieldsets
        ]


class WriteOnlySecretsForm(forms.ModelForm):  # type: ignore[type-arg]
    """Secrets are typed in, never shown back: an empty field keeps what is stored."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            if name not in self.fields:  # a viewer's form has no editable fields
                continue
            field = self.fields[name]
            field.widget = forms.PasswordInput(render_value=False)
            field.required = False
            stored = bool(self.instance.pk and getattr(self.instance, name))
            field.help_text = (
                f"{field.help_text} {'A value is stored.' if stored else 'Nothing stored.'}".strip()
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in self.secret_fields:
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
        return cleaned


class LabelStudioInstanceForm(WriteOnlySecretsForm):
    secret_fields = ("access_token", "api_key")

    class Meta:
        model = LabelStudioInstance
        fields = ("hostname", "url", "access_token", "api_key")


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
                actor=_user_actor(request),
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


class ModelStateInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ModelState
    extra = 0
    fields = ("key", "value", "updated_at")
    readonly_fields = ("updated_at",)


class ClassMappingForm(forms.ModelForm):  # type: ignore[type-arg]
    """One model class of one project: pick a control tag and label that can show it, or unmapped.

    The choices are the project's own labels whose control fits the class type; the same rule is
    checked again on save, since the project's config may have changed meanwhile."""

    target = forms.ChoiceField(required=False, label="maps to")
    _parsed: dict[str, Any]

    class Meta:
        model = ClassMapping
        fields = ("threshold",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mapping: ClassMapping = self.instance
        if mapping.model_class_id is None or mapping.model_project_id is None:
            # The template's blank "add another" row; mappings are only ever edited, never added here.
            self._parsed = {}
            return
        self._parsed = mapping.model_project.project.parsed_label_config
        targets = mapping_targets(mapping.model_class, self._parsed)
        choices = [("", "(unmapped)")] + [
            (json.dumps([t.from_name, t.label]), f"{t.from_name}: {t.label}") for t in targets
        ]
        if mapping.is_mapped and json.dumps([mapping.from_name, mapping.label]) not in dict(choices):
            choices.append(
                (
                    json.dumps([mapping.from_name, mapping.label]),
                    f"{mapping.from_name}: {mapping.label} (not in config)",
                )
            )
        target_field = self.fields["target"]
        assert isinstance(target_field, forms.ChoiceField)  # noqa: S101 - declared just above
        target_field.choices = choices
        self.fields["target"].initial = (
            json.dumps([mapping.from_name, mapping.label]) if mapping.is_mapped else ""
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        from_name, label = json.loads(cleaned["target"]) if cleaned.get("target") else ("", "")
        mapping: ClassMapping = self.instance
        try:
            class_mapping_validate(
                model_class=mapping.model_class, from_name=from_name, label=label, parsed=self._parsed
            )
        except ValidationError as exc:
            raise ValidationError({"target": exc.messages}) from exc
        if (from_name, label) != (mapping.from_name, mapping.label):
            mapping.from_name, mapping.label, mapping.automatic = from_name, label, False
        return cleaned


class ClassMappingInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ClassMapping
    form = ClassMappingForm
    extra = 0
    fields = ("model_class", "class_type", "target", "threshold", "automatic")
    readonly_fields = ("model_class", "class_type", "automatic")
    can_delete = False

    @admin.display(description="type")
    def class_type(self, obj: ClassMapping) -> str:
        return obj.model_class.type

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rows come from the model's classes when the project sets the model up

    def get_queryset(self, request: HttpRequest) -> QuerySet[ClassMapping]:
        return super().get_queryset(request).select_related("model_class", "model_project__project")


class ModelVersionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ModelVersion
    extra = 0
    fields = ("number", "metrics", "job", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ModelProject)
class ModelProjectAdmin(AuditedAdmin):
    list_display = (
        "model",
        "project",
        "last_seen_at",
        "predictions_total",
        "unmapped_total",
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
        "unmapped_total",
        "dropped_regions_total",
        "errors_total",
        "last_error",
        "last_error_at",
        "active_version",
        "model_version_display",
    )
    inlines = [ClassMappingInline, ModelVersionInline, ModelStateInline]
    actions = ["start_training"]

    @admin.display(description="model_version")
    def model_version_display(self, obj: ModelProject) -> str:
        return obj.model_version

    @admin.action(description="Start training")
    def start_training(self, request: HttpRequest, queryset: QuerySet[ModelProject]) -> None:
        for link in queryset.select_related("model", "project"):
            job = training_request(link=link, trigger=TrainingJob.Trigger.MANUAL, debounce=False)
            self.message_user(request, f"{link}: training job {job.pk} is {job.status}.", messages.SUCCESS)


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
class ProjectAdmin(AuditedAdmin):
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


@admin.register(LabelStudioInstance)
class LabelStudioInstanceAdmin(WriteOnlySecretsAdmin):
    form = LabelStudioInstanceForm
    write_only_fields = ("access_token", "api_key")
    list_display = ("__str__", "url", "has_token", "first_seen_at", "last_seen_at")
    search_fields = ("hostname", "url")

    @admin.display(boolean=True, description="token stored")
    def has_token(self, obj: LabelStudioInstance) -> bool:
        return bool(obj.token)


@admin.register(WebhookEvent)
class WebhookEventAdmin(AuditedAdmin):
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


@admin.register(TrainingJob)
class TrainingJobAdmin(AuditedAdmin):
    list_display = (
        "pk",
        "model_project",
        "status",
        "progress_display",
        "trigger",
        "events",
        "created_at",
        "started_at",
        "finished_at",
        "resulting_version",
    )
    list_filter = ("status", "trigger", "model_project__model")
    list_select_related = ("model_project__model", "model_project__project__instance")
    readonly_fields = (
        "model_project",
        "trigger",
        "status",
        "progress_display",
        "events",
        "rerun_requested",
        "cancel_requested",
        "not_before",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "worker",
        "resulting_version",
        "error",
        "log_tail",
    )
    exclude = ("progress",)
    actions = ["cancel_jobs"]

    @admin.display(description="progress")
    def progress_display(self, obj: TrainingJob) -> str:
        return format_html(
            '<progress value="{}" max="100"></progress> {}%',
            round(obj.progress * 100),
            round(obj.progress * 100),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs start from events or from "Start training" on a model in a project

    @admin.action(description="Cancel")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[TrainingJob]) -> None:
        for job in queryset:
            done = job_cancel(job)
            self.message_user(
                request, f"Job {job.pk}: {'cancelling' if done else 'already finished'}.", messages.INFO
            )


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
            model_version_activate(version=version)
            audit_record(
                actor=_user_actor(request),
                action="activate",
                obj=version.model_project,
                changes={"active_version": version.number},
            )
            self.message_user(
                request,
                f"{version.model_project} now serves version {version.number}.",
                messages.SUCCESS,
            )


@admin.register(Annotation)
class AnnotationAdmin(AuditedAdmin):
    list_display = ("ls_annotation_id", "ls_task_id", "project", "updated_at")
    list_filter = ("project",)
    readonly_fields = ("project", "ls_annotation_id", "ls_task_id", "task_data", "result", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The audit log: read-only, for everyone allowed to view it."""

    list_display = ("at", "actor", "action", "object_type", "object_repr", "changed_fields")
    list_filter = ("action", "object_type", "actor")
    search_fields = ("actor", "object_repr", "object_id")
    date_hierarchy = "at"
    readonly_fields = ("at", "actor", "action", "object_type", "object_id", "object_repr", "changes")

    @admin.display(description="changed")
    def changed_fields(self, obj: AuditEvent) -> str:
        return ", ".join(obj.changes)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
