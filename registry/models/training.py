"""What training learns from and how it runs: webhook events, annotations and training jobs."""

from __future__ import annotations

from typing import Any

from django.db import models

from registry.models.model import RegisteredModel
from registry.models.projects import ModelProject, Project


class WebhookEvent(models.Model):
    """A Label Studio event for a model, stored before it is acknowledged."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="events")
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    action = models.CharField(max_length=64)
    ls_project_id = models.PositiveBigIntegerField(null=True, blank=True)
    payload = models.JSONField()
    payload_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Label Studio retries deliveries; the same body for the same model is one event.
            models.UniqueConstraint(fields=["model", "payload_sha256"], name="unique_event_body")
        ]
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.action} for {self.model_id} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class Annotation(models.Model):
    """A Label Studio annotation as the webhooks reported it: the training set of a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    ls_annotation_id = models.BigIntegerField()
    ls_task_id = models.BigIntegerField(null=True, blank=True)
    task_data = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "ls_annotation_id"], name="unique_annotation_per_project"
            )
        ]

    def __str__(self) -> str:
        return f"annotation {self.ls_annotation_id} of task {self.ls_task_id}"

    def as_fit_data(self) -> dict[str, Any]:
        return {
            "id": self.ls_annotation_id,
            "task": {"id": self.ls_task_id, "data": self.task_data},
            "result": self.result,
        }


class TrainingJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Trigger(models.TextChoices):
        EVENT = "event"
        MANUAL = "manual"

    model_project = models.ForeignKey(ModelProject, on_delete=models.CASCADE, related_name="jobs")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.EVENT)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    events = models.PositiveIntegerField(default=0, help_text="Events coalesced into this job.")
    rerun_requested = models.BooleanField(
        default=False, help_text="Events arrived while it ran: one more run follows."
    )
    cancel_requested = models.BooleanField(default=False)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Debounce: runs no earlier than this.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    log_tail = models.TextField(blank=True)
    error = models.TextField(blank=True)
    resulting_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Single flight: at most one running job per model and project.
            models.UniqueConstraint(
                fields=["model_project"], condition=models.Q(status="running"), name="one_running_job"
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.status})"
