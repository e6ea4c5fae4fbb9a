"""The Hub's admin site: branded, with a dashboard for its index (``registry.dashboard``)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse


class HubAdminSite(admin.AdminSite):
    site_header = "WOW AI Hub"
    site_title = "WOW AI Hub"
    index_title = "Dashboard"
    index_template = "admin/hub/dashboard.html"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        context = dict(extra_context or {})
        if request.user.has_perm("registry.view_registeredmodel"):
            from registry.dashboard import dashboard_context

            context.update(dashboard_context())
        return super().index(request, context)
