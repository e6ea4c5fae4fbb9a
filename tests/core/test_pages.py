"""The page middleware (sessions, users, messages, frame options, static files) runs for the admin and
the API docs only; protocol calls skip it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import Client

from core.pages import PageMiddleware
from registry.models import RegisteredModel

pytestmark = pytest.mark.django_db


def test_protocol_calls_skip_the_page_middleware(client: Client) -> None:
    RegisteredModel.objects.create(
        name="Dummy", slug="dummy", kind="python", import_path="examples.dummy.model.DummyModel"
    )
    response = client.get("/ml/dummy/health")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response  # XFrameOptionsMiddleware did not run
    assert not hasattr(response.wsgi_request, "session")
    assert response["X-Content-Type-Options"] == "nosniff"  # the site-wide middleware still did


def test_admin_pages_get_sessions_users_and_frame_options(admin_client: Client) -> None:
    response = admin_client.get("/admin/registry/registeredmodel/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response.wsgi_request.user.is_superuser
    login = Client().get("/admin/login/")
    assert login.status_code == 200 and "csrftoken" in login.cookies


def test_admin_login_still_checks_csrf(admin_user: Any) -> None:
    guarded = Client(enforce_csrf_checks=True)
    response = guarded.post("/admin/login/", {"username": "admin", "password": "password"})
    assert response.status_code == 403


def test_middleware_with_view_hooks_must_stay_top_level(settings: Any) -> None:
    settings.PAGE_MIDDLEWARE = ["django.middleware.csrf.CsrfViewMiddleware"]
    with pytest.raises(ImproperlyConfigured, match="process_view"):
        PageMiddleware(lambda request: HttpResponse())


def test_page_prefixes_follow_the_static_url(settings: Any, rf: Any) -> None:
    settings.STATIC_URL = "assets/"
    seen: list[str] = []

    def pages(request: HttpRequest) -> HttpResponse:
        seen.append(request.path)
        return HttpResponse()

    settings.PAGE_MIDDLEWARE = []
    middleware = PageMiddleware(lambda request: HttpResponse(status=204))
    middleware.pages = pages
    assert middleware(rf.get("/assets/app.css")).status_code == 200
    assert middleware(rf.get("/ml/dummy/predict")).status_code == 204
    assert seen == ["/assets/app.css"]
