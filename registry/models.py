from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from registry.backends import backend_choices, get_backend
from registry.fields import EncryptedTextField


class RegisteredModel(models.Model):
    """A model served by the Hub at ``/ml/<slug>``."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True, help_text="The model's URL is /ml/<slug>.")
    kind = models.CharField(max_length=32, choices=backend_choices, default="python")
    import_path = models.CharField(
        max_length=300,
        blank=True,
        help_text="For Python models: the dotted path of the class, e.g. examples.dummy.model.DummyModel",
    )
    params = models.JSONField(
        default=dict, blank=True, help_text="Parameters handed to the model (JSON object)."
    )
    enabled = models.BooleanField(default=True)
    version = models.PositiveIntegerField(
        default=1,
        help_text="Bumped when the model's code, parameters or weights change; part of model_version.",
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    last_check_ok = models.BooleanField(null=True, editable=False)
    last_check_latency_ms = models.FloatField(null=True, editable=False)
    last_check_error = models.TextField(blank=True, editable=False)
    last_checked_at = models.DateTimeField(null=True, editable=False)

    predictions_total = models.PositiveBigIntegerField(default=0, editable=False)
    dropped_regions_total = models.PositiveBigIntegerField(default=0, editable=False)
    errors_total = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def model_version(self) -> str:
        return f"{self.slug}@{self.version}"

    def clean(self) -> None:
        if not isinstance(self.params, dict):
            raise ValidationError({"params": "Parameters must be a JSON object."})
        try:
            backend = get_backend(self.kind)
        except LookupError as exc:
            raise ValidationError({"kind": str(exc)}) from exc
        backend.validate(self)


class LabelStudioInstance(models.Model):
    """A Label Studio server, as named by the ``hostname`` it sends in ``/setup`` ("" if never said)."""

    hostname = models.CharField(max_length=300, unique=True, blank=True)
    access_token = EncryptedTextField(
        blank=True, help_text="The token Label Studio sent in /setup (write-only)."
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Label Studio instance"

    def __str__(self) -> str:
        return self.hostname or "(unknown Label Studio)"


class Project(models.Model):
    """A Label Studio project, keyed by its instance, id and creation timestamp."""

    instance = models.ForeignKey(LabelStudioInstance, on_delete=models.CASCADE, related_name="projects")
    ls_project_id = models.PositiveBigIntegerField("project id")
    created_ts = models.BigIntegerField(
        "created (unix ts)", default=0, help_text="0 when Label Studio sent a bare id."
    )
    label_config = models.TextField(blank=True)
    parsed_label_config = models.JSONField(default=dict, blank=True)
    config_hash = models.CharField(max_length=64, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "ls_project_id", "created_ts"], name="unique_project_per_instance"
            )
        ]
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"project {self.uid} @ {self.instance}"

    @property
    def uid(self) -> str:
        return f"{self.ls_project_id}.{self.created_ts}" if self.created_ts else str(self.ls_project_id)


class ModelProject(models.Model):
    """A registered model as used by one project: its state, settings and counters there."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="projects")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="models")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    predictions_total = models.PositiveBigIntegerField(default=0, editable=False)
    dropped_regions_total = models.PositiveBigIntegerField(default=0, editable=False)
    errors_total = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "project"], name="unique_model_project")]
        verbose_name = "model in project"
        verbose_name_plural = "models in projects"

    def __str__(self) -> str:
        return f"{self.model.slug} in {self.project}"


class ModelState(models.Model):
    """The key/value store behind the SDK's ``get``/``set``, per model and project."""

    model_project = models.ForeignKey(ModelProject, on_delete=models.CASCADE, related_name="state")
    key = models.CharField(max_length=200)
    value = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_project", "key"], name="unique_state_key")]
        verbose_name = "model state entry"
        verbose_name_plural = "model state"

    def __str__(self) -> str:
        return self.key


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
