"""Single-model mode (``wow-ai-ml start``): the model's protocol at the root, like an SDK backend,
and optional HTTP basic auth on every route."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, include, path

from core.basic_auth import basic_credentials
from inference.urls import ENDPOINTS


def _root_routes(slug: str) -> list[URLPattern]:
    """The protocol's endpoints at the root, for the one model (unnamed: the gateway's metrics label
    only the ``/ml/<slug>`` routes)."""
    fixed = {"slug": slug}
    # "" and "/" are both the root here.
    return [path(suffix.lstrip("/"), view.as_view(), fixed) for suffix, view, _ in ENDPOINTS if suffix != "/"]


# The root routes come first, so the model's /health answers where the gateway's would.
urlpatterns: list[URLPattern | URLResolver] = [
    *_root_routes(settings.HUB_STANDALONE_MODEL),
    path("", include("hubsite.urls")),
]
handler404 = "core.errors.not_found"
handler500 = "core.errors.server_error"


class BasicAuthMiddleware:
    """Every route needs ``HUB_BASIC_AUTH_USER``/``HUB_BASIC_AUTH_PASS`` when both are set (what Label
    Studio sends with ``auth_method=BASIC_AUTH``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.expected = (settings.HUB_BASIC_AUTH_USER.encode(), settings.HUB_BASIC_AUTH_PASS.encode())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._authorised(basic_credentials(request.headers.get("Authorization", ""))):
            return self.get_response(request)
        response = JsonResponse({"error": "Unauthorized", "code": "not_authenticated"}, status=401)
        response["WWW-Authenticate"] = 'Basic realm="Login required"'
        return response

    def _authorised(self, credentials: tuple[str, str] | None) -> bool:
        if credentials is None:
            return False
        user, password = (part.encode() for part in credentials)
        # Both compared every time, so timing does not tell which one was wrong.
        return hmac.compare_digest(user, self.expected[0]) & hmac.compare_digest(password, self.expected[1])
