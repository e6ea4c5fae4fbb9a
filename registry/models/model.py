"""Registered models and the classes they output."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from core.egress import model_host_policy
from registry.fields import EncryptedTextField
from registry.models.base import StampedQuerySet, TrafficCounters
from registry.validators import ServiceURLValidator, url_credentials_split


class AuthMethod(models.TextChoices):
    NONE = "none", "None"
    BASIC = "basic", "HTTP basic"
    HEADER = "header", "Secret header"


class ImageTransport(models.TextChoices):
    BASE64 = "base64", "Image bytes, base64"
    URL = "url", "Image URL (when the task has an absolute http(s) URL)"


class RegisteredModel(TrafficCounters):
    """A model served by the Hub at ``/ml/<slug>``."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=100,
        unique=True,
        help_text="Part of the model's URL, which is /ml/ followed by the slug; fixed once saved.",
    )
    # One of the kinds in registry.kinds, which check the row against its kind (kind_validate).
    kind = models.CharField(max_length=32, default="python")
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
    max_response_bytes = models.PositiveIntegerField(
        "largest answer (bytes)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1024)],
        help_text="The most one answer of the model server may weigh; beyond it the call fails, read no "
        "further. Blank: the Hub's HUB_MAX_UPSTREAM_RESPONSE_BYTES.",
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
    max_regions_per_task = models.PositiveIntegerField(
        "most regions per task",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="More results than this for one task are that task's error (an empty prediction, "
        "counted), the rest of the batch answered. Blank: the Hub's HUB_MAX_REGIONS_PER_TASK.",
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

    objects = StampedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def model_version(self) -> str:
        return f"{self.slug}@{self.version}"

    @property
    def label_studio_url(self) -> str:
        """What to paste into Label Studio's *Connect model* form."""
        return f"{settings.HUB_PUBLIC_URL}/ml/{self.slug}"

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
    def regions_limit(self) -> int:
        """The most regions one task's answer may carry (its own limit, else the Hub's)."""
        return int(self.max_regions_per_task or settings.HUB_MAX_REGIONS_PER_TASK)

    @property
    def response_bytes_limit(self) -> int:
        """The most one answer of its server may weigh (its own limit, else the Hub's)."""
        return int(self.max_response_bytes or settings.HUB_MAX_UPSTREAM_RESPONSE_BYTES)

    @property
    def effective_classes_url(self) -> str:
        if self.classes_url:
            return self.classes_url
        base = self.url.rstrip("/")
        return base[: -len("/infer")] + "/classes" if base.endswith("/infer") else base + "/classes"

    def move_url_credentials(self) -> None:
        """Credentials written into the URLs (``http://user:pass@host/...``) become the model's basic
        auth, so that the URLs, which the admin, the CLI and audit events show, never carry them."""
        found = set()
        for field in ("url", "classes_url"):
            bare, username, password = url_credentials_split(getattr(self, field))
            if (username, password) != ("", ""):
                setattr(self, field, bare)
                found.add((username, password))
        if not found:
            return
        if len(found) > 1:
            raise ValidationError(
                {"classes_url": "The URLs carry different credentials: use the auth fields."}
            )
        if self.auth_method == AuthMethod.HEADER:
            raise ValidationError(
                {"url": "The URL carries credentials, and the model sends a secret header instead."}
            )
        [(username, password)] = list(found)
        self.auth_method, self.auth_username = AuthMethod.BASIC, username
        if password:
            self.auth_secret = password

    def clean(self) -> None:
        self.move_url_credentials()
        policy = model_host_policy()
        if policy is not None:
            refused = {
                f: policy.refusal(getattr(self, f)) for f in ("url", "classes_url") if getattr(self, f)
            }
            if any(refused.values()):
                raise ValidationError({field: why for field, why in refused.items() if why})
        for field in ("params", "request_extra"):
            if not isinstance(getattr(self, field), dict):
                raise ValidationError({field: "Must be a JSON object."})
        if self.auth_method == AuthMethod.BASIC and not self.auth_username:
            raise ValidationError({"auth_username": "HTTP basic auth needs a username."})
        if self.auth_method == AuthMethod.HEADER and not self.auth_header_name:
            raise ValidationError({"auth_header_name": "Name the header that carries the secret."})


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
