from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from hubsite.health import gateway_health
from hubsite.metrics import metrics_view

urlpatterns = [
    path("health", gateway_health, name="gateway-health"),
    path("metrics", metrics_view, name="gateway-metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # The connection key in the path is for callers that cannot send credentials (Label Studio's webhook).
    path("ml/<slug:slug>/k/<str:key>", include("inference.urls")),
    path("ml/<slug:slug>", include("inference.urls")),
]

handler404 = "hubsite.errors.not_found"
handler500 = "hubsite.errors.server_error"
