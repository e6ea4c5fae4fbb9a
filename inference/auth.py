"""Credentials for a model's protocol endpoints, when its registration asks for them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.basic_auth import basic_credentials
from core.throttle import client_address
from registry.access import credential_gate
from registry.hot_path import cached_model


class ModelCredentials(BaseAuthentication):
    """Only says how to authenticate (the ``WWW-Authenticate`` of a 401); the check is the permission's."""

    def authenticate(self, request: Request) -> None:
        return None

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="Login required"'


class ModelCredentialsScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """How the OpenAPI schema describes ``ModelCredentials``."""

    target_class = ModelCredentials
    name = "modelCredentials"

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[str]]]:
        return [{self.name: []}, {}]  # {}: a model registered without "require credentials" is open

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "Only for models registered with 'require credentials': their username and "
            "password, or their connection key in the path (/ml/<slug>/k/<key>/...).",
        }


class ModelCallerAllowed(BasePermission):
    message = "This model requires credentials: HTTP basic auth or its connection key in the URL."

    def has_permission(self, request: Request, view: Any) -> bool:
        slug = view.kwargs.get("slug")
        model = cached_model(slug)
        if model is None or not model.protocol_auth_required:
            return True  # unknown slugs get their 404 from the view
        client = client_address(request) or ""
        key = view.kwargs.get("key")
        if key is not None:
            return credential_gate.check_key(model, client, key)
        credentials = basic_credentials(request.headers.get("Authorization", ""))
        return credentials is not None and credential_gate.check_basic(model, client, *credentials)
