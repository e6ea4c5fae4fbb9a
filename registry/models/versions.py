"""Trained versions of a model in a project."""

from __future__ import annotations

from django.db import models

from registry.models.base import StampedQuerySet
from registry.models.projects import ModelProject
from registry.models.training import TrainingJob


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
