"""The audit log's page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from registry.models import AuditEvent


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
