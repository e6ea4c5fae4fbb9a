"""The one error shape of the Hub: ``{"error": "<message>", "code": "<machine code>"}``.

Every API failure goes through :func:`api_exception_handler`; plain Django 404/500 pages go through
:func:`not_found` and :func:`server_error`. Clients never see a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.redact import mask_connection_keys

logger = logging.getLogger(__name__)


class HubError(APIException):
    status_code: int = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = "The Hub could not complete the request."
    default_code = "hub_error"


class ModelDisabled(HubError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "model_disabled"


class ModelLoadFailed(HubError):
    default_code = "model_load_failed"


class ModelFailed(HubError):
    default_code = "model_error"


class ModelBadOutput(HubError):
    default_code = "model_bad_output"


class ModelBusy(HubError):
    """The model holds its whole share of the worker (inference/admission.py): retry after ``wait`` s,
    which DRF's handler sends as ``Retry-After``."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "model_busy"

    def __init__(self, detail: str, wait: int) -> None:
        super().__init__(detail)
        self.wait = wait


class HubBusy(ModelBusy):
    """Every model together holds the worker's whole predict capacity: retry after ``wait`` s."""

    default_code = "hub_busy"


class DatabaseUnavailable(HubError):
    """The database is down or restarting: the client may retry; nothing was half-done for it to undo."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The Hub's database is unavailable; try again shortly."
    default_code = "database_unavailable"


# What the database driver raises while the server is stopped, restarting or dropping connections.
DATABASE_DOWN = (OperationalError, InterfaceError)


class InvalidLabelConfig(HubError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_label_config"


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        return [msg for key, value in detail.items() for msg in _flatten(value, f"{prefix}{key}.")]
    if isinstance(detail, list):
        return [msg for item in detail for msg in _flatten(item, prefix)]
    return [f"{prefix.rstrip('.')}: {detail}" if prefix else str(detail)]


class RequestTooLarge(HubError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the Hub accepts (HUB_MAX_BODY_BYTES)."
    default_code = "request_too_large"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DATABASE_DOWN):
        logger.warning("Database unavailable in %s: %s", context.get("view").__class__.__name__, exc)
        exc = DatabaseUnavailable()
    elif isinstance(exc, RequestDataTooBig):  # Django's refusal, raised when DRF reads the body
        exc = RequestTooLarge()
    response = drf_exception_handler(exc, context)
    if response is None:
        # Unexpected: log it with its traceback for operators, answer in our shape without it.
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__)
        return Response(
            {"error": "Internal server error.", "code": "server_error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, ValidationError):
        body: dict[str, Any] = {
            "error": "Invalid request: " + "; ".join(_flatten(exc.detail)),
            "code": "invalid",
        }
        if isinstance(exc.detail, dict):
            body["fields"] = exc.detail
    elif isinstance(exc, APIException):
        codes = exc.get_codes()
        body = {"error": str(exc.detail), "code": codes if isinstance(codes, str) else exc.default_code}
    else:  # Http404 / PermissionDenied turned into responses by DRF
        body = {
            "error": str(response.data.get("detail", exc)),
            "code": "not_found" if response.status_code == 404 else "error",
        }
    response.data = body
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Callers (Label Studio) log error bodies: a connection key in the path is not repeated.
    path = mask_connection_keys(request.path)
    return JsonResponse({"error": f"No such endpoint: {path}", "code": "not_found"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception, so it is still the current one.
    if isinstance(sys.exc_info()[1], DATABASE_DOWN):
        error = DatabaseUnavailable()
        return JsonResponse(
            {"error": str(error.detail), "code": error.default_code}, status=error.status_code
        )
    return JsonResponse({"error": "Internal server error.", "code": "server_error"}, status=500)


class UpstreamBadAnswer(HubError):
    """A model server or Label Studio answered, but not with what the contract says."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "upstream_bad_answer"


class MediaUnavailable(HubError):
    """A Python model could not have a task's media (refused, missing, or its source failed): the
    fault is the media's, not the model's."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "media_unavailable"


class UpstreamUnavailable(HubError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "upstream_unavailable"


class UpstreamTimeout(HubError):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_code = "upstream_timeout"


class CircuitOpen(HubError):
    """A model server failed too often in a row: the Hub answers at once instead of calling it."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "circuit_open"
