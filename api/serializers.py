"""Shapes of the REST API's requests and answers (they also make its OpenAPI schema).

Input serializers only check shapes and field formats; the rules (the version bump, whole-row
validation, which labels a class may map to) are the services' (registry.registration, registry.mapping).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from api.models import ApiToken
from inference.serializers import MAX_ID
from registry.kinds import kind_choices, kind_fields
from registry.models import (
    AuthMethod,
    ImageTransport,
    ModelClass,
    ModelProject,
    ModelVersion,
    RegisteredModel,
    TrainingJob,
)
from registry.models.base import COUNTER_FIELDS


class TokenInfoSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    user = serializers.CharField(source="user.get_username")

    class Meta:
        model = ApiToken
        fields = ("name", "user", "scope", "prefix", "created_at", "last_used_at")


class RejectUnknownFields:
    """An input serializer that refuses fields it does not have (400, ``fields`` naming each): a typo
    such as ``treshold`` would otherwise be dropped and the request look successful.
    ``unknown_field_messages`` gives a field a more precise message."""

    unknown_field_messages: dict[str, str] = {}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = {name for name, field in self.fields.items() if not field.read_only}  # type: ignore[attr-defined]
            unknown = sorted(str(name) for name in data if name not in known)
            if unknown:
                raise serializers.ValidationError(
                    {name: [self.unknown_field_messages.get(name, "Unknown field.")] for name in unknown}
                )
        return super().to_internal_value(data)  # type: ignore[misc]


class ModelClassSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ModelClass
        fields = ("name", "type")


# What a caller may set on a model (each kind's fields among them); the slug only when registering.
MODEL_INPUT_FIELDS = (
    "name",
    "kind",
    "enabled",
    "prediction_cache",
    "description",
    *kind_fields(),
    "max_regions_per_task",
    "version",
    "protocol_auth_required",
    "protocol_username",
)


class ModelInputSerializer(RejectUnknownFields, serializers.ModelSerializer):  # type: ignore[type-arg]
    """A model to register (every field but name and slug optional) or changes to one (partial)."""

    kind = serializers.CharField(
        required=False, help_text="The model's kind: " + ", ".join(name for name, _ in kind_choices()) + "."
    )
    params = serializers.JSONField(required=False, help_text="A JSON object handed to the model.")
    request_extra = serializers.JSONField(required=False, help_text="A JSON object merged into requests.")
    auth_method = serializers.ChoiceField(choices=AuthMethod.choices, required=False)
    image_transport = serializers.ChoiceField(choices=ImageTransport.choices, required=False)
    auth_secret = serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text="Write-only; never returned."
    )
    protocol_password = serializers.CharField(
        required=False, write_only=True, help_text="Basic-auth password for the protocol; stored hashed."
    )

    class Meta:
        model = RegisteredModel
        fields: tuple[str, ...] = ("slug", *MODEL_INPUT_FIELDS, "protocol_password")
        extra_kwargs = {"version": {"required": False}}


class ModelUpdateSerializer(ModelInputSerializer):
    unknown_field_messages = {"slug": "The slug is the model's URL in Label Studio: it cannot change."}

    class Meta(ModelInputSerializer.Meta):
        fields = (*MODEL_INPUT_FIELDS, "protocol_password")


class CheckSerializer(serializers.Serializer):  # type: ignore[type-arg]
    ok = serializers.BooleanField(allow_null=True, source="last_check_ok")
    latency_ms = serializers.FloatField(allow_null=True, source="last_check_latency_ms")
    error = serializers.CharField(source="last_check_error")
    checked_at = serializers.DateTimeField(allow_null=True, source="last_checked_at")


class ModelSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A registered model as the API shows it: secrets only as whether one is stored."""

    kind = serializers.ChoiceField(choices=kind_choices(), read_only=True)
    model_version = serializers.CharField(read_only=True)
    label_studio_url = serializers.CharField(read_only=True, help_text="The URL to paste into Label Studio.")
    auth_secret_set = serializers.SerializerMethodField()
    protocol_password_set = serializers.SerializerMethodField()
    last_check = CheckSerializer(source="*", read_only=True)
    classes = ModelClassSerializer(many=True, read_only=True)

    class Meta:
        model = RegisteredModel
        fields = (
            "slug",
            *[f for f in MODEL_INPUT_FIELDS if f != "auth_secret"],
            "model_version",
            "label_studio_url",
            "auth_secret_set",
            "protocol_password_set",
            "last_check",
            "classes",
            *COUNTER_FIELDS,
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_auth_secret_set(self, model: RegisteredModel) -> bool:
        return bool(model.auth_secret)

    def get_protocol_password_set(self, model: RegisteredModel) -> bool:
        return bool(model.protocol_password_hash)


class ModelFilterSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Query parameters of the model list."""

    kind = serializers.ChoiceField(choices=kind_choices(), required=False)
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)
    health = serializers.ChoiceField(choices=["ok", "error", "never"], required=False)
    search = serializers.CharField(required=False, help_text="In name, slug, import path, URL, description.")


class FetchedClassesSerializer(serializers.Serializer):  # type: ignore[type-arg]
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    total = serializers.IntegerField()


class CheckResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    ok = serializers.BooleanField()
    latency_ms = serializers.FloatField()
    message = serializers.CharField()
    details = serializers.DictField()


class ConnectionKeySerializer(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField(help_text="Shown this once: only its hash is kept.")
    label_studio_url = serializers.CharField(help_text="The model's URL with the key, for Label Studio.")


class ModelProjectSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A model in one Label Studio project (``id`` is the Hub's project id)."""

    id = serializers.IntegerField(source="project_id")
    ls_project_id = serializers.IntegerField(source="project.ls_project_id")
    label_studio = serializers.CharField(source="project.instance.base_url")
    model_version = serializers.CharField()

    class Meta:
        model = ModelProject
        fields = (
            "id",
            "ls_project_id",
            "label_studio",
            "active_version",
            "model_version",
            "predictions_total",
            "unmapped_total",
            "dropped_regions_total",
            "errors_total",
            "last_seen_at",
        )
        read_only_fields = fields


class ProjectFilterSerializer(serializers.Serializer):  # type: ignore[type-arg]
    ls_project_id = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID)


class TargetSerializer(serializers.Serializer):  # type: ignore[type-arg]
    from_name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label


class MappingSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One model class in one project: where it goes (empty ``from_name``: unmapped) and where it may."""

    class_name = serializers.CharField()
    type = serializers.CharField()
    from_name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    threshold = serializers.FloatField(allow_null=True)
    automatic = serializers.BooleanField()
    targets = TargetSerializer(many=True, help_text="The project's labels this class may map to.")


class MappingsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    project = ModelProjectSerializer()
    mappings = MappingSerializer(many=True)


class MappingChangeSerializer(RejectUnknownFields, serializers.Serializer):  # type: ignore[type-arg]
    class_name = serializers.CharField(max_length=200)
    from_name = serializers.CharField(max_length=200, allow_blank=True, default="")
    label = serializers.CharField(max_length=200, allow_blank=True, default="")  # type: ignore[assignment]  # a field, not Field.label
    threshold = serializers.FloatField(min_value=0.0, max_value=1.0, allow_null=True, required=False)


class MappingChangesSerializer(RejectUnknownFields, serializers.Serializer):  # type: ignore[type-arg]
    mappings = MappingChangeSerializer(many=True, allow_empty=False, max_length=10_000)  # type: ignore[call-arg]


class VersionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    project = serializers.IntegerField(source="model_project.project_id", help_text="The Hub's project id.")
    active = serializers.SerializerMethodField()
    model_version = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = ("number", "project", "model_version", "active", "metrics", "job", "created_at")
        read_only_fields = fields

    def get_active(self, version: ModelVersion) -> bool:
        return version.model_project.active_version == version.number

    def get_model_version(self, version: ModelVersion) -> str:
        return f"{version.model_project.model.model_version}.{version.number}"


class VersionFilterSerializer(serializers.Serializer):  # type: ignore[type-arg]
    project = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID)


class TrainingJobSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    model = serializers.CharField(source="model_project.model.slug")
    project = serializers.IntegerField(source="model_project.project_id")

    class Meta:
        model = TrainingJob
        fields = (
            "id",
            "model",
            "project",
            "trigger",
            "status",
            "progress",
            "events",
            "rerun_requested",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
            "error",
            "log_tail",
            "resulting_version",
        )
        read_only_fields = fields


class TrainingJobFilterSerializer(serializers.Serializer):  # type: ignore[type-arg]
    model = serializers.SlugField(required=False)
    project = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID)
    status = serializers.ChoiceField(choices=TrainingJob.Status.choices, required=False)
