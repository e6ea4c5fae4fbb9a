"""A test URLconf: one API write behind the real authentication and permissions, to try scopes on."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import TokenApi


class ProbeApi(TokenApi):
    write_permissions = ("registry.change_registeredmodel",)

    def get(self, request: Request) -> Response:
        return Response({"read": True})

    def post(self, request: Request) -> Response:
        return Response({"written": True})


urlpatterns = [
    path("probe", ProbeApi.as_view()),
    path("", include("hubsite.urls")),
]
