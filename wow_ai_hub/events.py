"""The names of Label Studio's webhook events that the Hub and the SDK act on: the one list."""

from __future__ import annotations

# Annotations made or changed (Label Studio sends the singular, and the plural for bulk actions).
ANNOTATION_UPSERTS = frozenset({"ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED"})
ANNOTATION_DELETES = frozenset({"ANNOTATION_DELETED", "ANNOTATIONS_DELETED"})
START_TRAINING = "START_TRAINING"

# What a model learns from unless its class declares its own ``TRAIN_EVENTS``: the annotation events
# and "Start training". Other events (TASKS_CREATED, PROJECT_UPDATED, ...) reach a model that names them.
DEFAULT_TRAIN_EVENTS: tuple[str, ...] = (
    "ANNOTATION_CREATED",
    "ANNOTATIONS_CREATED",
    "ANNOTATION_UPDATED",
    "ANNOTATION_DELETED",
    "ANNOTATIONS_DELETED",
    START_TRAINING,
)
