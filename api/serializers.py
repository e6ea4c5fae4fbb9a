"""Shapes of the REST API's requests and answers (they also make its OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers

from api.models import ApiToken


class TokenInfoSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    user = serializers.CharField(source="user.get_username")

    class Meta:
        model = ApiToken
        fields = ("name", "user", "scope", "prefix", "created_at", "last_used_at")
