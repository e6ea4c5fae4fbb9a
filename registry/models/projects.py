"""Label Studio instances and projects, models as used in a project, their class mappings and state."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from registry.fields import EncryptedTextField
from registry.models.base import StampedQuerySet, TrafficCounters
from registry.models.model import ModelClass, RegisteredModel
from registry.validators import ServiceURLValidator


class LabelStudioInstance(models.Model):
    """A Label Studio server, as named by the ``hostname`` it sends in ``/setup`` ("" if never said)."""

    hostname = models.CharField(max_length=300, unique=True, blank=True)
    access_token = EncryptedTextField(
        blank=True,
        help_text="A token for this Label Studio, set here (write-only). The tokens Label Studio sends "
        "in /setup are kept per model in project: one model's callers never choose another's.",
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
        """The admin's URL, else the operator's of a backend served alone, else the /setup hostname."""
        return (self.url or settings.HUB_OPERATOR_LABEL_STUDIO_URL or self.hostname).rstrip("/")

    @property
    def token(self) -> str:
        """What an admin set for the instance, else the operator's key of a backend served alone (a
        model's /setup token is on its ModelProject)."""
        return str(self.api_key or self.access_token or settings.HUB_OPERATOR_LABEL_STUDIO_API_KEY)

    @property
    def address_trusted(self) -> bool:
        """Whether task media may be fetched from this instance on a loopback or private address. The
        hostname comes from /setup, which anyone who reaches a model without credentials can call:
        a URL set in the admin (or by the operator of a backend served alone) is trusted, a /setup
        hostname only if HUB_MEDIA_TRUST_SETUP_HOSTNAME."""
        return (
            bool(self.url or settings.HUB_OPERATOR_LABEL_STUDIO_URL)
            or settings.HUB_MEDIA_TRUST_SETUP_HOSTNAME
        )


class Project(models.Model):
    """A Label Studio project, keyed by its instance, id and creation timestamp. Its label config is the
    last one a /setup brought, for the admin to show; each model serves and trains by its own link's
    (``ModelProject.label_config``)."""

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


class ModelProject(TrafficCounters):
    """A registered model as used by one project: its state, settings and counters there."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="projects")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="models")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    active_version = models.PositiveIntegerField(
        default=0, help_text="The trained version in use (0: as registered, before any training)."
    )
    access_token = EncryptedTextField(
        blank=True, help_text="The token Label Studio sent in this model's /setup (write-only)."
    )
    # The project's label config as this model's own calls (/setup, /predict, /webhook) last sent it:
    # another model's callers, open or not, never change what this model serves or trains by.
    label_config = models.TextField(blank=True, editable=False)
    parsed_label_config = models.JSONField(default=dict, blank=True, editable=False)
    config_hash = models.CharField(max_length=64, blank=True, editable=False)

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

    @property
    def label_studio_url(self) -> str:
        """Where this model reaches the project's Label Studio: the admin's URL, else the hostname this
        model's own /setup named (a link exists only for the instance its own calls named)."""
        return self.project.instance.base_url

    @property
    def label_studio_token(self) -> str:
        """The admin's API key or token for the instance, else the token this model's /setup sent."""
        return self.project.instance.token or str(self.access_token)


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
    results_total = models.PositiveBigIntegerField(
        default=0, editable=False, help_text="Results of this class the model gave in this project."
    )
    last_result_at = models.DateTimeField(null=True, editable=False)

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
