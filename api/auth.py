"""How REST API callers authenticate and what their token lets them do; views under ``/api/`` import these.

``Authorization: Bearer <token>`` (or ``Token <token>``) with a token issued in the admin (*API tokens*).
Missing or wrong: 401 in the error shape; too many wrong ones from one client: 429 for a while. A
read-only token may only read (GET, HEAD, OPTIONS); writing needs a read-write token and the Django
permissions the view names for the token's user. A model's protocol credentials (open or not) have no
part in it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from api.models import ApiToken
from api.tokens import api_token_find
from core.throttle import FailureThrottle, client_address

KEYWORDS = frozenset({"bearer", "token"})

# Failed token checks per client address, per worker.
api_auth_failures = FailureThrottle(
    lambda: settings.HUB_API_AUTH_FAILURE_LIMIT, lambda: settings.HUB_API_AUTH_FAILURE_WINDOW_SECONDS
)


class ApiTokenAuthentication(BaseAuthentication):
    """``Bearer``/``Token`` API tokens; failures are counted per client address (``get_ident``, which
    honours DRF's ``NUM_PROXIES``) and, past ``HUB_API_AUTH_FAILURE_LIMIT`` within
    ``HUB_API_AUTH_FAILURE_WINDOW_SECONDS``, that client gets 429 without a check until its oldest
    failure leaves the window (``core.throttle``, the rule of the protocol's credentials too)."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None  # the permission answers 401 not_authenticated
        client = client_address(request)
        wait = api_auth_failures.admit(client)
        if wait:
            raise Throttled(wait=wait, detail="Too many failed authentications from this client.")
        keyword, _, raw = header.partition(" ")
        token = None
        try:
            token = api_token_find(raw.strip()) if keyword.lower() in KEYWORDS else None
        finally:
            api_auth_failures.settle(client, ok=token is not None)
        if token is None:
            raise AuthenticationFailed("Invalid, revoked or expired API token.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """How the OpenAPI schema describes ``ApiTokenAuthentication``."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token issued in the admin (API tokens): 'Authorization: Bearer "
            "hub_...' (or 'Token hub_...'). Read-only tokens may only use GET.",
        }


class TokenScopePermission(BasePermission):
    """Any live token may read; writing needs a read-write token. A view may also name the Django
    permissions its token's user needs: ``read_permissions`` and ``write_permissions``."""

    message = "This API needs a token."
    code = "permission_denied"

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return False  # DRF answers 401: no credentials were given
        if request.method in SAFE_METHODS:
            needed: tuple[str, ...] = getattr(view, "read_permissions", ())
        else:
            if token.scope != ApiToken.Scope.WRITE:
                self.message, self.code = "This token is read-only.", "read_only_token"
                return False
            needed = getattr(view, "write_permissions", ())
        if not request.user.has_perms(needed):
            self.message = f"The token's user lacks the permission: {', '.join(sorted(needed))}."
            return False
        return True


def api_actor(token: ApiToken) -> str:
    """Who a change made with this token is in the audit log."""
    return f"user:{token.user.get_username()} (API token {token.prefix})"


class TokenApi(APIView):
    """Base of every ``/api/`` view: token authentication and scopes; ``self.actor`` for the audit log."""

    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [TokenScopePermission]

    @property
    def actor(self) -> str:
        token = self.request.auth
        assert isinstance(token, ApiToken)  # noqa: S101 - the permission let only tokens through
        return api_actor(token)
