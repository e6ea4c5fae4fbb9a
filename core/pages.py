"""The middleware of the Hub's pages (admin, API docs, static files), which protocol calls skip.

Sessions, users, messages, frame options and static files are what a browser needs; protocol calls
need none of them, so they do not pay for them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

# Hooks Django collects from top-level middleware only: a middleware nested here would lose them.
_TOP_LEVEL_HOOKS = ("process_view", "process_exception", "process_template_response")


def page_prefixes() -> tuple[str, ...]:
    """Where the Hub's pages live; every other path is the protocol or the gateway's own endpoints."""
    return ("/admin/", "/api/", "/" + settings.STATIC_URL.strip("/") + "/")


class PageMiddleware:
    """Runs ``settings.PAGE_MIDDLEWARE`` in order for page paths; passes every other request straight on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefixes = page_prefixes()
        chain = get_response
        for path in reversed(settings.PAGE_MIDDLEWARE):
            middleware = import_string(path)(chain)
            hooks = [hook for hook in _TOP_LEVEL_HOOKS if hasattr(middleware, hook)]
            if hooks:
                raise ImproperlyConfigured(f"{path} has {', '.join(hooks)}: list it in MIDDLEWARE")
            chain = middleware
        self.pages = chain

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(self.prefixes):
            return self.pages(request)
        return self.get_response(request)
