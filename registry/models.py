from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.dispatch import Signal

from registry.backends import backend_choices, get_backend
from registry.fields import EncryptedTextField
from registry.validators import ServiceURLValidator

# Sent after a queryset update changed cached fields (saves and deletes have Django's own signals).
stamped_rows_updated = Signal()
# Fields that move with traffic (counters, last-seen times, check results): no cache reads them.
VOLATILE_FIELDS = frozenset(
    {
        "predictions_total",
        "dropped_regions_total",
        "unmapped_total",
        "errors_total",
        "last_error",
        "last_error_at",
        "last_seen_at",
        "last_check_ok",
        "last_check_latency_ms",
        "last_check_error",
        "last_checked_at",
    }
)


class StampedQuerySet(models.QuerySet):  # type: ignore[type-arg]
    """Updates of anything but traffic fields tell the per-worker caches (``registry.hot_path``)."""

    def update(self, **kwargs: Any) -> int:
        rows = super().update(**kwargs)
        if rows and not set(kwargs) <= VOLATILE_FIELDS:
            stamped_rows_updated.send(sender=self.model)
        return rows


class AuthMethod(models.TextChoices):
    NONE = "none", "None"
    BASIC = "basic", "HTTP basic"
    HEADER = "header", "Secret header"


class ImageTransport(models.TextChoices):
    BASE64 = "base64", "Image bytes, base64"
    URL = "url", "Image URL (when the task has an absolute http(s) URL)"


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

    # Model servers (kinds "http" and "ml_backend").
    url = models.CharField(
        "URL",
        max_length=500,
        blank=True,
        validators=[ServiceURLValidator()],
        help_text="External model: its inference URL (POST), e.g. http://detector:9091/api/infer. "
        "ML backend: its base URL, e.g. http://sam:9090.",
    )
    classes_url = models.CharField(
        "classes URL",
        max_length=500,
        blank=True,
        validators=[ServiceURLValidator()],
        help_text="GET endpoint listing the model's classes; empty: the inference URL, /infer -> /classes.",
    )
    auth_method = models.CharField(max_length=16, choices=AuthMethod.choices, default=AuthMethod.NONE)
    auth_username = models.CharField(max_length=200, blank=True, help_text="For HTTP basic auth.")
    auth_secret = EncryptedTextField(
        blank=True, help_text="Basic-auth password or header secret (write-only)."
    )
    auth_header_name = models.CharField(max_length=100, blank=True, help_text="e.g. X-My-Auth")
    image_transport = models.CharField(
        max_length=16, choices=ImageTransport.choices, default=ImageTransport.BASE64
    )
    timeout_seconds = models.FloatField(
        default=30.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(95.0)],
        help_text="Per call; Label Studio waits 100 s for a whole batch.",
    )
    max_concurrency = models.PositiveSmallIntegerField(
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(256)],
        help_text="Calls in flight per Hub worker.",
    )
    threshold = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Default confidence threshold; a class mapping may override it.",
    )
    request_extra = models.JSONField(
        "extra request fields",
        default=dict,
        blank=True,
        help_text="Merged into every inference request (JSON object).",
    )
    prediction_cache = models.BooleanField(
        "cache predictions",
        default=True,
        help_text="Answer a task asked again with the same data, version and mappings from the cache. "
        "Turn off for models whose answer changes without a new version.",
    )

    # Who may call the model's protocol endpoints (off by default, as for Label Studio's own backends).
    protocol_auth_required = models.BooleanField(
        "require credentials",
        default=False,
        help_text="Callers need HTTP basic auth (what Label Studio sends) or the connection key in the URL.",
    )
    protocol_username = models.CharField("basic-auth username", max_length=150, blank=True)
    protocol_password_hash = models.CharField(max_length=200, blank=True, editable=False)
    connection_key_hash = models.CharField(max_length=64, blank=True, editable=False)

    last_check_ok = models.BooleanField(null=True, editable=False)
    last_check_latency_ms = models.FloatField(null=True, editable=False)
    last_check_error = models.TextField(blank=True, editable=False)
    last_checked_at = models.DateTimeField(null=True, editable=False)

    predictions_total = models.PositiveBigIntegerField(default=0, editable=False)
    dropped_regions_total = models.PositiveBigIntegerField(default=0, editable=False)
    unmapped_total = models.PositiveBigIntegerField(default=0, editable=False)
    errors_total = models.PositiveBigIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, editable=False)

    objects = StampedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def model_version(self) -> str:
        return f"{self.slug}@{self.version}"

    def set_protocol_password(self, password: str) -> None:
        self.protocol_password_hash = make_password(password)

    def check_protocol_credentials(self, username: str, password: str) -> bool:
        # check_password runs the hasher even for a wrong username, so timing tells nothing.
        password_ok = bool(self.protocol_password_hash) and check_password(
            password, self.protocol_password_hash
        )
        return password_ok and hmac.compare_digest(username.encode(), self.protocol_username.encode())

    def new_connection_key(self) -> str:
        """A fresh key for ``/ml/<slug>/k/<key>`` (Label Studio's webhook sends no credentials); only its
        hash is kept, so it is shown once."""
        key = secrets.token_urlsafe(24)
        self.connection_key_hash = hashlib.sha256(key.encode()).hexdigest()
        return key

    def check_connection_key(self, key: str) -> bool:
        given = hashlib.sha256(key.encode()).hexdigest()
        return bool(self.connection_key_hash) and hmac.compare_digest(given, self.connection_key_hash)

    @property
    def effective_classes_url(self) -> str:
        if self.classes_url:
            return self.classes_url
        base = self.url.rstrip("/")
        return base[: -len("/infer")] + "/classes" if base.endswith("/infer") else base + "/classes"

    def clean(self) -> None:
        for field in ("params", "request_extra"):
            if not isinstance(getattr(self, field), dict):
                raise ValidationError({field: "Must be a JSON object."})
        if self.auth_method == AuthMethod.BASIC and not self.auth_username:
            raise ValidationError({"auth_username": "HTTP basic auth needs a username."})
        if self.auth_method == AuthMethod.HEADER and not self.auth_header_name:
            raise ValidationError({"auth_header_name": "Name the header that carries the secret."})
        try:
            backend = get_backend(self.kind)
        except LookupError as exc:
            raise ValidationError({"kind": str(exc)}) from exc
        backend.validate(self)


class ModelClass(models.Model):
    """A class an external model can output, with its V7 annotation type."""

    class Type(models.TextChoices):
        TAG = "tag"
        BOUNDING_BOX = "bounding_box"
        POLYGON = "polygon"
        KEYPOINT = "keypoint"
        ELLIPSE = "ellipse"
        LINE = "line"
        SKELETON = "skeleton"
        CUBOID = "cuboid"
        DIRECTIONAL_VECTOR = "directional_vector"
        COMPLEX_POLYGON = "complex_polygon"

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="classes")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=32, choices=Type.choices, default=Type.BOUNDING_BOX)

    objects = StampedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="unique_class_per_model")]
        ordering = ["name"]
        verbose_name_plural = "model classes"

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


class LabelStudioInstance(models.Model):
    """A Label Studio server, as named by the ``hostname`` it sends in ``/setup`` ("" if never said)."""

    hostname = models.CharField(max_length=300, unique=True, blank=True)
    access_token = EncryptedTextField(
        blank=True, help_text="The token Label Studio sent in /setup (write-only)."
    )
    url = models.CharField(
        "URL override",
        max_length=300,
        blank=True,
        validators=[ServiceURLValidator()],
        help_text="Where the Hub reaches this Label Studio, if not at its hostname (e.g. http://label-studio:8080).",
    )
    api_key = EncryptedTextField(
        "API key",
        blank=True,
        help_text="Legacy token or personal access token used to fetch media (write-only). "
        "Label Studio 1.23 disables the legacy token it sends in /setup, so set one here.",
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    objects = StampedQuerySet.as_manager()

    class Meta:
        verbose_name = "Label Studio instance"

    def __str__(self) -> str:
        return self.hostname or "(unknown Label Studio)"

    @property
    def base_url(self) -> str:
        return (self.url or self.hostname).rstrip("/")

    @property
    def token(self) -> str:
        return str(self.api_key or self.access_token)

    @property
    def address_trusted(self) -> bool:
        """Whether task media may be fetched from this instance on a loopback or private address. The
        hostname comes from /setup, which anyone who reaches a model without credentials can call:
        a URL set in the admin is trusted, a /setup hostname only if HUB_MEDIA_TRUST_SETUP_HOSTNAME."""
        return bool(self.url) or settings.HUB_MEDIA_TRUST_SETUP_HOSTNAME


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

    objects = StampedQuerySet.as_manager()

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
    unmapped_total = models.PositiveBigIntegerField(default=0, editable=False)
    errors_total = models.PositiveBigIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, editable=False)
    active_version = models.PositiveIntegerField(
        default=0, help_text="The trained version in use (0: as registered, before any training)."
    )

    objects = StampedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "project"], name="unique_model_project")]
        verbose_name = "model in project"
        verbose_name_plural = "models in projects"

    def __str__(self) -> str:
        return f"{self.model.slug} in {self.project}"

    @property
    def model_version(self) -> str:
        """The version Label Studio sees for this project: the registered one, plus the trained one."""
        base = self.model.model_version
        return f"{base}.{self.active_version}" if self.active_version else base


class ClassMapping(models.Model):
    """Where one model class goes in one project: a control tag and one of its labels, or unmapped."""

    model_project = models.ForeignKey(ModelProject, on_delete=models.CASCADE, related_name="mappings")
    model_class = models.ForeignKey(ModelClass, on_delete=models.CASCADE, related_name="mappings")
    from_name = models.CharField("control tag", max_length=200, blank=True, help_text="Empty: unmapped.")
    label = models.CharField(max_length=200, blank=True)
    threshold = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Overrides the model's threshold for this class.",
    )
    automatic = models.BooleanField(default=False, editable=False, help_text="Created by auto-mapping.")

    objects = StampedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_project", "model_class"], name="unique_mapping")
        ]
        ordering = ["model_class__name"]

    def __str__(self) -> str:
        target = f"{self.from_name}:{self.label}" if self.is_mapped else "unmapped"
        return f"{self.model_class.name} -> {target}"

    @property
    def is_mapped(self) -> bool:
        return bool(self.from_name)


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


class ModelVersion(models.Model):
    """What a successful training produced for a model in a project: its state and metrics."""

    model_project = models.ForeignKey(ModelProject, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    state = models.JSONField(default=dict, help_text="The model's saved state (artifacts) at this version.")
    metrics = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(TrainingJob, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = StampedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_project", "number"], name="unique_version_number")
        ]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"{self.model_project.model.slug} v{self.number}"


class HubStamp(models.Model):
    """A token that changes whenever something the protocol endpoints cache per worker changes.

    Each request compares it (one indexed read) with the token its worker cached under, so an
    admin's edit reaches every worker at its next request instead of after a timer.
    """

    name = models.CharField(max_length=32, primary_key=True)
    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"{self.name}: {self.token}"


class AuditEvent(models.Model):
    """One change to a model, mapping, credential or version: who made it and when (see registry.audit).

    Secret fields appear in ``changes`` as "changed", never with a value."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(
        max_length=200,
        db_index=True,
        help_text='"user:<name>" for people in the admin, "system:<what>" for the Hub itself.',
    )
    action = models.CharField(max_length=32, db_index=True)
    object_type = models.CharField(max_length=100, db_index=True, help_text="app_label.model")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=300)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_type} {self.object_id}"
