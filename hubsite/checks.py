"""System checks of the Hub's own settings (``manage.py check``; runserver and migrate run them too)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning


def allowed_hosts_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The trial accepts any Host header (Label Studio reaches it by whatever name its network gives);
    a deployment names its hosts. A warning, not an error, so the quickstart runs unchanged."""
    if settings.DEBUG or "*" not in settings.ALLOWED_HOSTS:
        return []
    return [
        Warning(
            "ALLOWED_HOSTS accepts any host ('*').",
            hint="Set ALLOWED_HOSTS to the names Label Studio and browsers use for the Hub, "
            "e.g. ALLOWED_HOSTS=hub.example.com,hub (comma-separated).",
            id="hub.W001",
        )
    ]
