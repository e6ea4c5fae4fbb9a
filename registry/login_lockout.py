"""What the admin's login throttling (django-axes, configured in ``hubsite/settings.py``) shows a
locked-out client."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """The admin's page for a login refused by the throttle: 429, saying why, for how long and who can
    lift it."""
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed logins",
        "username": (credentials or {}).get("username") or request.POST.get("username", ""),
        "minutes": round(settings.AXES_COOLOFF_TIME.total_seconds() / 60),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    response = TemplateResponse(request, "admin/hub/login_locked_out.html", context, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response.render()
