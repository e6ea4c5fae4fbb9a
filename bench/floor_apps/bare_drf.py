"""Django REST framework's floor: one APIView with JSON only, no middleware, no database."""

from __future__ import annotations

from typing import Any, cast

from bench.floor_apps.answer import answer, configure_bare_django

configure_bare_django(
    __name__,
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
    REST_FRAMEWORK={
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": [],
        "UNAUTHENTICATED_USER": None,
    },
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


class PredictApi(APIView):
    def post(self, request: Request, slug: str) -> Response:
        return Response(answer(cast(dict[str, Any], request.data)))


urlpatterns = [path("ml/<slug:slug>/predict", PredictApi.as_view())]
app = get_wsgi_application()
