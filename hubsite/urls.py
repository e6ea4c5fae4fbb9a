from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.metrics import metrics_view
from hubsite.health import gateway_health
from inference.urls import protocol_routes

urlpatterns = [
    # The protocol first: its calls are nearly all the traffic, and URLs are tried in order.
    # The connection key in the path is for callers that cannot send credentials (Label Studio's webhook).
    *protocol_routes("ml/<slug:slug>/k/<str:key>"),
    *protocol_routes("ml/<slug:slug>"),
    path("health", gateway_health, name="gateway-health"),
    path("metrics", metrics_view, name="gateway-metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/", include("api.urls")),
]

handler404 = "core.errors.not_found"
handler500 = "core.errors.server_error"
