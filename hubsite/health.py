from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse


def gateway_health(request: HttpRequest) -> JsonResponse:
    """Liveness of the whole Hub: answers only if the database does."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse(
            {"error": "The database is unreachable.", "code": "database_unavailable"}, status=503
        )
    return JsonResponse({"status": "UP", "database": "ok"})
