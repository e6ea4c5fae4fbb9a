"""The registry's database models, one module per area; every name is importable from here."""

from registry.models.audit import AuditEvent
from registry.models.base import (
    VOLATILE_FIELDS,
    HubStamp,
    StampedQuerySet,
    TrafficCounters,
    stamped_rows_updated,
)
from registry.models.model import AuthMethod, ImageTransport, ModelClass, RegisteredModel
from registry.models.projects import ClassMapping, LabelStudioInstance, ModelProject, ModelState, Project
from registry.models.traffic import LATENCY_EDGES_MS, LATENCY_FIELDS, TrafficMinute
from registry.models.training import Annotation, TrainingJob, WebhookEvent
from registry.models.versions import ModelVersion

__all__ = [
    "LATENCY_EDGES_MS",
    "LATENCY_FIELDS",
    "VOLATILE_FIELDS",
    "Annotation",
    "AuditEvent",
    "AuthMethod",
    "ClassMapping",
    "HubStamp",
    "ImageTransport",
    "LabelStudioInstance",
    "ModelClass",
    "ModelProject",
    "ModelState",
    "ModelVersion",
    "Project",
    "RegisteredModel",
    "StampedQuerySet",
    "TrafficCounters",
    "TrafficMinute",
    "TrainingJob",
    "WebhookEvent",
    "stamped_rows_updated",
]
