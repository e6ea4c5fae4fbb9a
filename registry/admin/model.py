"""Registering a model: its form, list and actions."""

from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import escape

from registry.admin import model_page
from registry.admin.base import LabelledInlineFormSet, WriteOnlySecretsAdmin, WriteOnlySecretsForm, user_actor
from registry.kinds import kind_choices, kind_get, kind_validate, kinds_all
from registry.models import ModelClass, RegisteredModel
from registry.models.base import COUNTER_FIELDS
from registry.registration import registered_model_save
from registry.services import connection_key_issue, model_check_connection

# The model's page: the fields every model has, around those of its kind (kind_fieldsets).
FIELDSETS_BEFORE_KINDS: Any = (
    (None, {"fields": ("kind", "name", "slug", "enabled", "prediction_cache", "description")}),
)
FIELDSETS_AFTER_KINDS: Any = (
    ("Limits", {"fields": ("max_regions_per_task",)}),
    ("Access", {"fields": ("protocol_auth_required", "protocol_username", "protocol_password")}),
    ("Version", {"fields": ("version", "model_version_display")}),
    (
        "Last check",
        {
            "classes": ("collapse",),
            "fields": ("last_check_ok", "last_check_latency_ms", "last_check_error", "last_checked_at"),
        },
    ),
    (
        "Counters",
        {
            "classes": ("collapse",),
            "fields": (*COUNTER_FIELDS, "created_at", "updated_at"),
        },
    ),
)
# What a model has only once it exists: left off the registration form.
ADD_HIDDEN_FIELDSETS = ("Version", "Last check", "Counters")


def kind_fieldsets() -> list[Any]:
    """A fieldset per title of the kinds' fieldsets, in the kinds' order, with the fields any of them
    uses; its ``hub-kind-<name>`` classes say which kinds it is shown for (register.js)."""
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    for kind in kinds_all():
        title, fields = kind.fieldset
        names, union = grouped.setdefault(title, ([], []))
        names.append(kind.name)
        union.extend(name for name in fields if name not in union)
    return [
        (title, {"fields": tuple(union), "classes": tuple(f"hub-kind-{name}" for name in names)})
        for title, (names, union) in grouped.items()
    ]


def kinds_on_page() -> dict[str, dict[str, Any]]:
    """What register.js shows for each kind: its fields, and whether it has classes to fetch and map."""
    return {
        kind.name: {"fields": list(kind.fieldset[1]), "classes": kind.uses_class_mappings}
        for kind in kinds_all()
    }


class RegisteredModelForm(WriteOnlySecretsForm):
    """The fields every model has; the admin adds each kind's own from its fieldset (``get_fieldsets``)."""

    secret_fields = ("auth_secret",)
    kind = forms.ChoiceField(choices=kind_choices)
    protocol_password = forms.CharField(
        label="Basic-auth password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored hashed; leave empty to keep the current one.",
    )
    # Set by the page's script once "Fetch classes" worked on an unsaved registration.
    fetch_classes_on_save = forms.BooleanField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = RegisteredModel
        fields = (
            "name",
            "slug",
            "kind",
            "enabled",
            "prediction_cache",
            "description",
            "version",
            "protocol_auth_required",
            "protocol_username",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "slug" in self.fields:  # admin help texts are HTML: the placeholder must be escaped
            self.fields["slug"].help_text = escape(
                f"Part of the model's URL: Label Studio connects to {settings.HUB_PUBLIC_URL}/ml/<slug>. "
                "Fixed once saved."
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

    # Where ModelForm checks the completed instance (RegisteredModel.clean); django-stubs omit it.
    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        try:
            kind_validate(self.instance)
        except ValidationError as exc:
            self.add_error(None, exc)

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


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return kind_choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


class ModelClassForm(forms.ModelForm):  # type: ignore[type-arg]
    """A row of the classes table; its column headers are not labels, so each input names itself."""

    class Meta:
        model = ModelClass
        fields = ("name", "type")
        widgets = {
            "name": forms.TextInput(attrs={"aria-label": "class name"}),
            "type": forms.Select(attrs={"aria-label": "class type"}),
        }


class ModelClassInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ModelClass
    formset = LabelledInlineFormSet
    form = ModelClassForm
    extra = 0
    fields = ("name", "type")


@admin.register(RegisteredModel)
class RegisteredModelAdmin(WriteOnlySecretsAdmin):
    form = RegisteredModelForm
    write_only_fields = ("auth_secret", "protocol_password")
    list_display = (
        "name",
        "kind_short",
        "model_version_display",
        "health",
        "ls_url",
        "predictions",
        "errors",
    )
    list_filter = (KindFilter, "enabled", HealthFilter)
    search_fields = ("name", "slug", "import_path", "url", "description")
    readonly_fields = (
        "model_version_display",
        "last_check_ok",
        "last_check_latency_ms",
        "last_check_error",
        "last_checked_at",
        *COUNTER_FIELDS,
        "created_at",
        "updated_at",
    )
    inlines = [ModelClassInline]
    actions = ["test_connection", "fetch_classes", "new_connection_key"]
    change_form_template = "admin/hub/registeredmodel_change_form.html"
    fieldsets = (*FIELDSETS_BEFORE_KINDS, *kind_fieldsets(), *FIELDSETS_AFTER_KINDS)

    @admin.display(description="served as")
    def model_version_display(self, obj: RegisteredModel) -> str:
        """The version Label Studio sees: the model's own, or ``<slug>@<version>``."""
        return obj.model_version

    @admin.display(description="latency")
    def last_check_latency(self, obj: RegisteredModel) -> str:
        return "" if obj.last_check_latency_ms is None else f"{obj.last_check_latency_ms:.0f} ms"

    @admin.display(description="kind", ordering="kind")
    def kind_short(self, obj: RegisteredModel) -> str:
        try:
            return kind_get(obj.kind).short_label
        except LookupError:
            return obj.kind

    @admin.display(description="health", ordering="last_check_ok")
    def health(self, obj: RegisteredModel) -> str:
        state = {True: "OK", False: "failed", None: "not checked"}[obj.last_check_ok]
        latency = self.last_check_latency(obj)
        text = f"{state} · {latency}" if latency else state
        return text if obj.enabled else f"{text} (disabled)"

    @admin.display(description="predictions", ordering="predictions_total")
    def predictions(self, obj: RegisteredModel) -> int:
        return obj.predictions_total

    @admin.display(description="errors", ordering="errors_total")
    def errors(self, obj: RegisteredModel) -> int:
        return obj.errors_total

    @admin.display(description="Label Studio URL")
    def ls_url(self, obj: RegisteredModel) -> str:
        return render_to_string("admin/hub/ls_url_cell.html", {"model": obj})

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:  # registering: only what the model needs, the kind first
            return [fs for fs in fieldsets if fs[0] not in ADD_HIDDEN_FIELDSETS]
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: RegisteredModel | None = None) -> Any:
        # The slug is the model's URL in Label Studio: changing it would disconnect every project.
        return (*self.readonly_fields, "slug") if obj else self.readonly_fields

    class Media:
        css = {"all": ("registry/admin/hub.css",)}
        js = (
            "registry/vendor/chartjs/chart.umd.min.js",
            "registry/admin/hub.js",
            "registry/admin/register.js",
        )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "tools/<str:tool>/",
                wrap(partial(model_page.tool_view, self)),
                name="registry_registeredmodel_tool",
            ),
            path(
                "<path:object_id>/activate/<int:version_id>/",
                wrap(partial(model_page.activate_view, self)),
                name="registry_registeredmodel_activate",
            ),
            *super().get_urls(),
        ]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), **self.form_context()}
        return super().add_view(request, form_url, context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        context = {**(extra_context or {}), **(model_page.page_context(obj) if obj else {})}
        return super().change_view(request, object_id, form_url, {**context, **self.form_context()})

    def form_context(self) -> dict[str, Any]:
        """What the form's script needs: the Hub's URL and what each kind shows."""
        return {"hub_public_url": settings.HUB_PUBLIC_URL, "hub_kinds": kinds_on_page()}

    def response_add(
        self, request: HttpRequest, obj: RegisteredModel, post_url_continue: str | None = None
    ) -> HttpResponse:
        response = super().response_add(request, obj, post_url_continue)
        self.message_user(
            request,
            f"Paste this URL into Label Studio (Connect model): {obj.label_studio_url}",
            messages.INFO,
        )
        if "_save" in request.POST:  # the model's page shows the URL to copy, and what comes next
            return HttpResponseRedirect(reverse("admin:registry_registeredmodel_change", args=[obj.pk]))
        return response

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change and form.cleaned_data.get("fetch_classes_on_save"):
            model_page.fetch_classes_with_message(self, request, form.instance)

    def save_model(
        self, request: HttpRequest, obj: RegisteredModel, form: forms.ModelForm[RegisteredModel], change: bool
    ) -> None:
        # The version rule compares with the stored row (registry.registration), not form.changed_data:
        # JSON fields with callable defaults report themselves changed whenever the hidden initial is missing.
        registered_model_save(
            model=obj, actor=user_actor(request), version_given="version" in form.changed_data
        )

    @admin.action(description="New connection key (shown once)")
    def new_connection_key(self, request: HttpRequest, queryset: QuerySet[RegisteredModel]) -> HttpResponse:
        issued = [
            (
                model,
                f"{model.label_studio_url}/k/{connection_key_issue(model=model, actor=user_actor(request))}",
            )
            for model in queryset
        ]
        # Shown on this page only (the admin's pages are never cached): not in a message, since messages
        # travel in a cookie or the session; never stored.
        return TemplateResponse(
            request,
            "admin/hub/connection_keys_issued.html",
            {
                **self.admin_site.each_context(request),
                "title": "New connection keys",
                "opts": self.opts,
                "issued": issued,
            },
        )

    @admin.action(description="Fetch classes")
    def fetch_classes(self, request: HttpRequest, queryset: QuerySet[RegisteredModel]) -> None:
        for model in queryset:
            model_page.fetch_classes_with_message(self, request, model)

    @admin.action(description="Test connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[RegisteredModel]) -> None:
        for model in queryset:
            result = model_check_connection(model=model)
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(request, f"{model.slug}: {result.message} ({result.latency_ms:.0f} ms)", level)
