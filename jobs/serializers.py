"""Shapes of the pre-annotation API's requests and answers (they also make its OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers import RejectUnknownFields
from inference.serializers import MAX_ID
from jobs.models import PreannotationJob


class PreannotationStartSerializer(RejectUnknownFields, serializers.Serializer):  # type: ignore[type-arg]
    model = serializers.SlugField(help_text="The registered model's slug.")
    project = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The Label Studio project id."
    )
    label_studio_url = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=300,
        help_text="Needed unless the project called /setup.",
    )
    api_key = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        write_only=True,
        max_length=2000,
        help_text="Label Studio API key (default: the instance's, set in the admin).",
    )
    task_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_empty=False,
        max_length=1_000_000,
        help_text="Only these tasks.",
    )
    view_id = serializers.IntegerField(
        min_value=1, required=False, help_text="Only the tasks of this Data Manager view."
    )
    mode = serializers.ChoiceField(
        choices=PreannotationJob.Mode.choices, default=PreannotationJob.Mode.MISSING
    )


class FailureSerializer(serializers.Serializer):  # type: ignore[type-arg]
    task = serializers.IntegerField()
    reason = serializers.CharField()


class PreannotationJobSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A job as ``jobs.selectors.preannotation_job_state`` gives it."""

    id = serializers.IntegerField()
    model = serializers.CharField()
    model_version = serializers.CharField(help_text="The version its predictions carry.")
    project = serializers.IntegerField()
    label_studio_url = serializers.CharField()
    selection = serializers.ChoiceField(choices=PreannotationJob.Selection.choices)
    view_id = serializers.IntegerField(allow_null=True)
    task_ids = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    mode = serializers.ChoiceField(choices=PreannotationJob.Mode.choices)
    status = serializers.ChoiceField(choices=PreannotationJob.Status.choices)
    pause_requested = serializers.BooleanField()
    cancel_requested = serializers.BooleanField()
    error = serializers.CharField()
    total = serializers.IntegerField(allow_null=True, help_text="Tasks selected, once known.")
    done = serializers.IntegerField(help_text="Tasks given a prediction by this job.")
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Tasks that already had one.")
    fraction = serializers.FloatField()
    tasks_per_second = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True)
    retry_of = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    worker = serializers.CharField(help_text="The worker running it (host:process), while it runs.")
    failures = FailureSerializer(many=True, help_text="The first failed tasks, with their reasons.")


class PreannotationFilterSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Query parameters of the job list."""

    model = serializers.SlugField(required=False, help_text="Only this model's jobs (its slug).")
    project = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_ID, help_text="Only this Label Studio project's jobs."
    )
    status = serializers.ChoiceField(choices=PreannotationJob.Status.choices, required=False)
