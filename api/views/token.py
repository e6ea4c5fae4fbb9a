from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import TokenApi
from api.schema import ERRORS
from api.serializers import TokenInfoSerializer


class TokenInfoApi(TokenApi):
    @extend_schema(
        operation_id="token_info",
        summary="The token this request uses",
        responses={200: TokenInfoSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(TokenInfoSerializer(request.auth).data)
