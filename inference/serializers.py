"""Input validation for the protocol endpoints: every field Label Studio sends, in the types it may send."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from registry.project_uid import ProjectUid


class ProjectUidField(serializers.Field):  # type: ignore[type-arg]
    """``"<id>.<created ts>"`` or a bare id; absent or null means no project."""

    def to_internal_value(self, data: Any) -> ProjectUid | None:
        if data in (None, ""):
            return None
        if isinstance(data, bool) or not isinstance(data, str | int):
            raise serializers.ValidationError("must be a string such as '7.1700000000'")
        try:
            return ProjectUid.parse(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def to_representation(self, value: ProjectUid) -> str:
        return str(value)


class SetupInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    project = ProjectUidField(required=False, allow_null=True)
    schema = serializers.CharField(required=False, allow_blank=True, allow_null=True, trim_whitespace=False)
    hostname = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=300)
    access_token = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4096)
    # A string from Label Studio's UI textarea, any JSON through its REST API.
    extra_params = serializers.JSONField(required=False, allow_null=True)


class PredictInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    tasks = serializers.JSONField()
    project = ProjectUidField(required=False, allow_null=True)
    label_config = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, trim_whitespace=False
    )
    params = serializers.JSONField(required=False, allow_null=True)

    def validate_tasks(self, value: Any) -> list[dict[str, Any]]:
        tasks = [value] if isinstance(value, dict) else value
        if not isinstance(tasks, list) or not all(isinstance(task, dict) for task in tasks):
            raise serializers.ValidationError("must be a list of task objects")
        if len(tasks) > settings.HUB_MAX_TASKS_PER_REQUEST:
            raise serializers.ValidationError(
                f"at most {settings.HUB_MAX_TASKS_PER_REQUEST} tasks per request, got {len(tasks)}"
            )
        return tasks

    def validate_params(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be an object")
        context = value.get("context")
        if context is not None and not isinstance(context, dict):
            raise serializers.ValidationError({"context": "must be an object or null"})
        return value


class WebhookInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    action = serializers.CharField(max_length=64)
    project = serializers.JSONField(required=False, allow_null=True)

    def validate_project(self, value: Any) -> dict[str, Any] | None:
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("must be the project object Label Studio sends")
        return value


class JobStatusInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    job = serializers.CharField(max_length=64)


class TrainInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Label Studio's legacy ``/train`` body (sent only when its training-webhook flag is off)."""

    project = ProjectUidField(required=False, allow_null=True)
    annotations = serializers.JSONField(required=False)
    label_config = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
