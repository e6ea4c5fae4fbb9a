"""Label Studio instances, their projects, and models in projects with their class mappings."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from registry.admin.base import (
    AuditedAdmin,
    LabelledInlineFormSet,
    ReadOnlyInline,
    WriteOnlySecretsAdmin,
    WriteOnlySecretsForm,
)
from registry.admin.versions import ModelVersionInline
from registry.mapping import class_mapping_validate, mapping_targets
from registry.models import (
    ClassMapping,
    LabelStudioInstance,
    ModelProject,
    ModelState,
    Project,
)
from registry.models.base import COUNTER_FIELDS


class LabelStudioInstanceForm(WriteOnlySecretsForm):
    secret_fields = ("access_token", "api_key")

    class Meta:
        model = LabelStudioInstance
        fields = ("hostname", "url", "access_token", "api_key")


class ModelProjectForm(WriteOnlySecretsForm):
    secret_fields = ("access_token",)

    class Meta:
        model = ModelProject
        fields = ("access_token",)


class ModelStateForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ModelState
        fields = ("key", "value")
        widgets = {
            "key": forms.TextInput(attrs={"aria-label": "state key"}),
            "value": forms.Textarea(attrs={"aria-label": "state value", "rows": 2}),
        }


class ModelStateInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ModelState
    formset = LabelledInlineFormSet
    form = ModelStateForm
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
        self._parsed = mapping.model_project.parsed_label_config
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
        # A table row's inputs have column headers, not labels: each names its class.
        target_field.widget.attrs["aria-label"] = f"label for class {mapping.model_class.name}"
        self.fields["threshold"].widget.attrs["aria-label"] = (
            f"threshold for class {mapping.model_class.name}"
        )
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


def time_ago(moment: datetime) -> str:
    """'just now' within the minute, else '3 minutes ago' (the largest unit only)."""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, depth=1)} ago"


class ClassMappingInline(admin.TabularInline):  # type: ignore[type-arg]
    """The project's class mapping as one table: each model class, the label it maps to (only labels
    that fit), its threshold, and the results the model gave for it here; unmapped rows stand out."""

    model = ClassMapping
    form = ClassMappingForm
    extra = 0
    fields = ("class_name", "class_type", "target", "threshold", "results", "mapping_state")
    readonly_fields = ("class_name", "class_type", "results", "mapping_state")
    can_delete = False
    verbose_name_plural = "class mapping"
    classes = ["hub-mapping"]

    @admin.display(description="model class")
    def class_name(self, obj: ClassMapping) -> str:
        return obj.model_class.name

    @admin.display(description="type")
    def class_type(self, obj: ClassMapping) -> str:
        return obj.model_class.type

    @admin.display(description="results here")
    def results(self, obj: ClassMapping) -> str:
        if not obj.results_total or obj.last_result_at is None:
            return "none yet"
        return format_html(
            '{} <span class="hub-quiet">(last one {})</span>', obj.results_total, time_ago(obj.last_result_at)
        )

    @admin.display(description="state")
    def mapping_state(self, obj: ClassMapping) -> str:
        if not obj.is_mapped:
            return format_html(
                '<strong class="hub-flag-unmapped">{}</strong>', "unmapped: its results are dropped"
            )
        return "auto-mapped" if obj.automatic else "mapped"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rows come from the model's classes when the project sets the model up

    def get_queryset(self, request: HttpRequest) -> QuerySet[ClassMapping]:
        return super().get_queryset(request).select_related("model_class", "model_project__project")


@admin.register(ModelProject)
class ModelProjectAdmin(WriteOnlySecretsAdmin):
    """A model in one project: what it serves there, then its class mapping table; counters and the
    /setup token (write-only: a Label Studio user's key) folded away."""

    class Media:
        css = {"all": ("registry/admin/hub.css",)}

    form = ModelProjectForm
    # The token the model's /setup brought (its view of the project's Label Studio).
    write_only_fields = ("access_token",)
    fieldsets = (
        (None, {"fields": ("model", "project", "model_version_display", "active_version")}),
        (
            "Counters",
            {"classes": ("collapse",), "fields": ("first_seen_at", "last_seen_at", *COUNTER_FIELDS)},
        ),
        ("Label Studio token", {"classes": ("collapse",), "fields": ("access_token",)}),
    )

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
        *COUNTER_FIELDS,
        "active_version",
        "model_version_display",
    )
    inlines = [ClassMappingInline, ModelVersionInline, ModelStateInline]
    # Filled by the apps that act on a model in a project (training, pre-annotation jobs): the registry's
    # admin may not import them (dependencies point down).
    actions: list[Any] = []

    @admin.display(description="served as")
    def model_version_display(self, obj: ModelProject) -> str:
        return obj.model_version


class ModelProjectInline(ReadOnlyInline):
    model = ModelProject
    fields = ("model", "last_seen_at", "predictions_total", "dropped_regions_total", "errors_total")


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
        return bool(obj.api_key or obj.access_token)
