"""What the registry's admin pages share: audited saves, write-only secrets, read-only inlines."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse

from registry.audit import audit_actor


def user_actor(request: HttpRequest) -> str:
    """The audit actor for the signed-in user of an admin request."""
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
        with audit_actor(user_actor(request)):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        with audit_actor(user_actor(request)):
            return super().changelist_view(request, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        with audit_actor(user_actor(request)):
            return super().delete_view(request, object_id, extra_context)


class WriteOnlySecretsAdmin(AuditedAdmin):
    """A viewer without change permission gets every field read-only, shown with its value: so the
    secret fields are left out of their page."""

    write_only_fields: tuple[str, ...] = ()

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        kept = [
            (name, {**options, "fields": [f for f in options["fields"] if f not in self.write_only_fields]})
            for name, options in fieldsets
        ]
        return [(name, options) for name, options in kept if options["fields"]]  # no empty section


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


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    """Rows another page owns, listed with a link to it: nothing is added, changed or deleted here."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LabelledInlineFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    """A table's rows have column headers, not labels: the delete box of each row names itself."""

    def add_fields(self, form: forms.ModelForm[Any], index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].widget.attrs["aria-label"] = "delete this row"
