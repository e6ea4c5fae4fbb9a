"""Single-model mode (``wow-ai-ml start``): the model's protocol at the root, like an SDK backend,
and optional HTTP basic auth on every route."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, include, path

from inference import apis


def _root_routes(slug: str) -> list[URLPattern]:
    fixed = {"slug": slug}
    return [
        path("", apis.HealthApi.as_view(), fixed),
        path("health", apis.HealthApi.as_view(), fixed),
        path("setup", apis.SetupApi.as_view(), fixed),
        path("predict", apis.PredictApi.as_view(), fixed),
        path("webhook", apis.WebhookApi.as_view(), fixed),
        path("train", apis.TrainApi.as_view(), fixed),
        path("job_status", apis.JobStatusApi.as_view(), fixed),
        path("versions", apis.VersionsApi.as_view(), fixed),
        path("metrics", apis.MetricsApi.as_view(), fixed),
    ]


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
        self.expected = f"{settings.HUB_BASIC_AUTH_USER}:{settings.HUB_BASIC_AUTH_PASS}".encode()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._authorised(request.headers.get("Authorization", "")):
            return self.get_response(request)
        response = JsonResponse({"error": "Unauthorized", "code": "not_authenticated"}, status=401)
        response["WWW-Authenticate"] = 'Basic realm="Login required"'
        return response

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            return False
        return hmac.compare_digest(given, self.expected)
