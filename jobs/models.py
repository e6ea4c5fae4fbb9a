"""Pre-annotation jobs: one registered model over the tasks of one Label Studio project.

The job row is the truth; the broker only carries "run job N". Label Studio is the truth about
which task has which prediction: a job resumes by reading it again from its cursor."""

from __future__ import annotations

from typing import Any

from django.db import models

from registry.fields import EncryptedTextField
from registry.models import ModelProject


class PreannotationJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        PAUSED = "paused"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Selection(models.TextChoices):
        ALL = "all", "All tasks"
        IDS = "ids", "Listed task ids"
        VIEW = "view", "A Data Manager view (tab)"

    class Mode(models.TextChoices):
        MISSING = "missing", "Tasks without a prediction of the model's current version"
        ONLY_EMPTY = "only_empty", "Tasks without any prediction"
        REDO = "redo", "Every task; replaces its prediction of the current version"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    model_project = models.ForeignKey(
        ModelProject, on_delete=models.CASCADE, related_name="preannotation_jobs"
    )
    # The Label Studio to call: the project's instance unless given with the job.
    label_studio_url = models.CharField(max_length=300, blank=True)
    api_key = EncryptedTextField(
        blank=True, help_text="Given with the job (write-only); else the instance's."
    )
    selection = models.CharField(max_length=8, choices=Selection.choices, default=Selection.ALL)
    task_ids = models.JSONField(default=list, blank=True, help_text="For ids; a view's tasks once listed.")
    view_id = models.PositiveBigIntegerField(null=True, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.MISSING)
    model_version = models.CharField(max_length=200, blank=True, help_text="The version it writes.")
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.CharField(max_length=200, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    pause_requested = models.BooleanField(default=False)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    total = models.PositiveIntegerField(null=True, blank=True, help_text="Tasks selected (once known).")
    done = models.PositiveIntegerField(default=0, help_text="Tasks given a prediction by this job.")
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text="Tasks that already had one.")
    # Every task with an id up to the cursor is accounted for (ids are taken in ascending order).
    cursor = models.BigIntegerField(default=0)
    # The chunk being written, {task id: [ids of the predictions it replaces]}: after a crash these
    # tasks are looked at again in Label Studio, so none is written twice.
    writing = models.JSONField(default=dict, blank=True)
    busy_seconds = models.FloatField(default=0.0, help_text="Time spent running (for the rate).")
    # Where the time went (they overlap: reading, predicting and writing run side by side).
    read_seconds = models.FloatField(default=0.0, help_text="Waiting for Label Studio's task lists.")
    predict_seconds = models.FloatField(default=0.0, help_text="Predicting, as /predict does.")
    write_seconds = models.FloatField(default=0.0, help_text="Waiting for Label Studio's imports.")
    label_studio_seconds = models.FloatField(
        default=0.0, help_text="With at least one call to Label Studio under way (the rest is the Hub's own)."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    run_started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "pre-annotation job"

    def __str__(self) -> str:
        return f"pre-annotation job {self.pk} ({self.status})"

    @property
    def processed(self) -> int:
        return self.done + self.failed + self.skipped

    @property
    def rate(self) -> float | None:
        """Tasks per second of running time."""
        return (self.done + self.failed) / self.busy_seconds if self.busy_seconds > 0 else None

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        if self.total is None or not rate:
            return None
        return max(self.total - self.processed, 0) / rate

    def progress(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "skipped": self.skipped,
            "fraction": min(self.processed / self.total, 1.0)
            if self.total
            else (1.0 if self.total == 0 else 0),
            "tasks_per_second": round(self.rate, 2) if self.rate else None,
            "eta_seconds": round(self.eta_seconds, 1) if self.eta_seconds is not None else None,
        }


class PreannotationFailure(models.Model):
    """A task the job could not pre-annotate, and why; "retry failed" starts a job for these."""

    job = models.ForeignKey(PreannotationJob, on_delete=models.CASCADE, related_name="failures")
    ls_task_id = models.BigIntegerField()
    reason = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "ls_task_id"], name="one_failure_per_task")]
        ordering = ["ls_task_id"]

    def __str__(self) -> str:
        return f"task {self.ls_task_id}: {self.reason[:80]}"
