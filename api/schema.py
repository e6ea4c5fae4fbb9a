"""What the OpenAPI schema says every API operation may answer besides its success."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse

from inference.serializers import ErrorSerializer

_ERROR = ErrorSerializer
ERRORS = {
    401: OpenApiResponse(_ERROR, description="No token, or an invalid or revoked one."),
    403: OpenApiResponse(_ERROR, description="The token is read-only, or its user lacks a permission."),
    429: OpenApiResponse(_ERROR, description="Too many failed authentications from this client."),
}
WRITE_ERRORS = {
    400: OpenApiResponse(_ERROR, description="Invalid input; `fields` says where."),
    **ERRORS,
}
NOT_FOUND = {404: OpenApiResponse(_ERROR, description="No such object (or, in a list, no such page).")}
UPSTREAM_ERRORS = {
    502: OpenApiResponse(_ERROR, description="The model server answered, but not as its contract says."),
    503: OpenApiResponse(_ERROR, description="The model server is unreachable (or its breaker is open)."),
    504: OpenApiResponse(_ERROR, description="The model server did not answer in time."),
}
