"""Input validation for the protocol endpoints: every field Label Studio sends, in the types it may send."""

from __future__ import annotations

import copy
import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from registry.project_uid import ProjectUid

# The largest id a database's 64-bit integer column holds; larger ones are refused, not a 500.
MAX_ID = 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


class ProtocolInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Validates one protocol body. Its fields are built and bound once per class and shared by every
    call: DRF builds a fresh copy per serializer, a tenth of every /predict under load.
    Sharing is safe because a field keeps no state of a call, and of its root it reads only
    ``partial`` and ``context``, which the protocol never sets (the root is an empty instance)."""

    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        shared: BindingDict | None = cls.__dict__.get("_shared_fields")
        if shared is None:
            template = cls()
            shared = BindingDict(template)
            for name, field in copy.deepcopy(self._declared_fields).items():
                shared[name] = field
            cls._shared_fields = shared  # type: ignore[attr-defined]
        return shared


class LabelConfigField(serializers.CharField):
    """A label config's text, untrimmed. DRF's check for lone surrogates (which no database can store)
    walks the text a character at a time in Python, on every /predict that carries a config; this one
    checks at C speed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitSurrogateCharactersValidator)
        ]

    def to_internal_value(self, data: Any) -> str:
        value: str = super().to_internal_value(data)
        if not value.isascii() and (surrogate := _SURROGATE.search(value)):
            raise serializers.ValidationError(
                f"Surrogate characters are not allowed: U+{ord(surrogate[0]):X}."
            )
        return value


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": True})
class ProjectUidField(serializers.Field):  # type: ignore[type-arg]
    """``"<id>.<created ts>"`` or a bare id; absent or null means no project."""

    def to_internal_value(self, data: Any) -> ProjectUid | None:
        if data in (None, ""):
            return None
        if isinstance(data, bool) or not isinstance(data, str | int):
            raise serializers.ValidationError("must be a string such as '7.1700000000'")
        try:
            uid = ProjectUid.parse(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        if uid.project_id > MAX_ID or uid.created_ts > MAX_ID:
            raise serializers.ValidationError(f"the project id and timestamp must be at most {MAX_ID}")
        return uid

    def to_representation(self, value: ProjectUid) -> str:
        return str(value)


class ParsedJSONField(serializers.JSONField):
    """Any JSON value of a body the JSON parser (the protocol's only one) has already parsed. DRF's
    JSONField encodes the value again to prove it is JSON, which for a batch of tasks cost as much as
    parsing it."""

    def to_internal_value(self, data: Any) -> Any:
        return data


@extend_schema_field({"oneOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}]})
class TasksField(ParsedJSONField):
    """Label Studio's tasks: a list of task objects (one task object is taken as a list of one)."""


class SetupInputSerializer(ProtocolInputSerializer):
    project = ProjectUidField(required=False, allow_null=True)
    schema = LabelConfigField(required=False, allow_blank=True, allow_null=True)
    hostname = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=300)
    access_token = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4096)
    # A string from Label Studio's UI textarea, any JSON through its REST API.
    extra_params = ParsedJSONField(required=False, allow_null=True)


class PredictInputSerializer(ProtocolInputSerializer):
    tasks = TasksField()
    project = ProjectUidField(required=False, allow_null=True)
    label_config = LabelConfigField(required=False, allow_blank=True, allow_null=True)
    params = ParsedJSONField(required=False, allow_null=True)

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


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "properties": {
            "id": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            "created_at": {"type": "string"},
            "label_config": {"type": "string"},
        },
    }
)
class WebhookProjectField(ParsedJSONField):
    """The project object of Label Studio's webhook payloads (only these keys are read)."""


# Label Studio's event payloads nest a few levels; far deeper is no event, and would take the stored
# body's later readers (PostgreSQL's JSON, the training worker) past their own limits.
MAX_STORED_DEPTH = 64


def _unstorable(value: Any) -> str | None:
    """Why a parsed body cannot be stored as JSON, if it cannot: a NUL character (PostgreSQL's JSON
    refuses it), a lone surrogate (no database encodes one), or nesting deeper than MAX_STORED_DEPTH.
    Iterative, so no depth of nesting costs a RecursionError."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "the body contains a NUL character (\\u0000), which cannot be stored"
            if not item.isascii() and (surrogate := _SURROGATE.search(item)):
                return f"the body contains a lone surrogate (U+{ord(surrogate[0]):X}), which cannot be stored"
        elif isinstance(item, dict | list):
            if depth >= MAX_STORED_DEPTH:
                return f"the body is nested more than {MAX_STORED_DEPTH} levels deep"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return None


class StoredPayloadSerializer(ProtocolInputSerializer):
    """A body the Hub stores whole (events): only what any database's JSON can hold."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problem = _unstorable(self.initial_data)
        if problem is not None:
            raise serializers.ValidationError(problem)
        return attrs


class WebhookInputSerializer(StoredPayloadSerializer):
    action = serializers.CharField(max_length=64)
    project = WebhookProjectField(required=False, allow_null=True)

    def validate_project(self, value: Any) -> dict[str, Any] | None:
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("must be the project object Label Studio sends")
        project_id = (value or {}).get("id")
        if isinstance(project_id, int) and not isinstance(project_id, bool) and not 0 <= project_id <= MAX_ID:
            raise serializers.ValidationError({"id": f"must be between 0 and {MAX_ID}"})
        return value


class JobStatusInputSerializer(ProtocolInputSerializer):
    job = serializers.CharField(max_length=64)

    def validate_job(self, value: str) -> str:
        # Job ids are numbers: other digits ("²", "٣") are no id either, and int() may refuse them.
        if value.isdigit() and not value.isascii():
            raise serializers.ValidationError("must be a job id such as '12'")
        return value


class TrainInputSerializer(StoredPayloadSerializer):
    """Label Studio's legacy ``/train`` body (sent only when its training-webhook flag is off)."""

    project = ProjectUidField(required=False, allow_null=True)
    annotations = ParsedJSONField(required=False)
    label_config = LabelConfigField(required=False, allow_blank=True)


# What the endpoints answer, for the OpenAPI schema (/api/schema/).


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Every failure: ``{"error": "<message>", "code": "<machine code>"}`` (see core/errors.py)."""

    error = serializers.CharField()
    code = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        # "fields" cannot be declared as an attribute: it is the serializer's own property.
        fields = super().get_fields()
        fields["fields"] = serializers.DictField(
            required=False, help_text="Invalid requests: the messages per field."
        )
        return fields


class HealthSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.CharField()
    model_class = serializers.CharField()
    model_version = serializers.CharField()


class SetupOutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    model_version = serializers.CharField()


class PredictOutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    results = serializers.ListField(
        child=serializers.JSONField(),
        help_text="One entry per task, in task order: a prediction, or a list of them.",
    )


class WebhookIgnoredSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.CharField()
    action = serializers.CharField()


class WebhookStoredSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.CharField()
    result = serializers.JSONField(allow_null=True)
    event = serializers.IntegerField()
    duplicate = serializers.BooleanField()
    job = serializers.IntegerField(allow_null=True)


class TrainOutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.CharField()
    job = serializers.CharField(required=False)


class JobStatusOutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    job_status = serializers.CharField()
    progress = serializers.FloatField()
    error = serializers.CharField(allow_null=True)


class VersionsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    versions = serializers.ListField(child=serializers.CharField())


class MetricsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    model_version = serializers.CharField()
    predictions_total = serializers.IntegerField()
    dropped_regions_total = serializers.IntegerField()
    errors_total = serializers.IntegerField()
