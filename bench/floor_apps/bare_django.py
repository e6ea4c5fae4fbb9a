"""Django's floor: one view, no middleware, no database, no DRF."""

from __future__ import annotations

import json

from bench.floor_apps.answer import answer, configure_bare_django

configure_bare_django(__name__)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


@csrf_exempt
def predict(request: HttpRequest, slug: str) -> HttpResponse:
    return HttpResponse(json.dumps(answer(json.loads(request.body))), content_type="application/json")


urlpatterns = [path("ml/<slug:slug>/predict", predict)]
app = get_wsgi_application()
