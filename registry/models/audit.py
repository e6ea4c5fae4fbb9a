"""The audit log's rows (written by ``registry.audit``)."""

from __future__ import annotations

from django.db import models


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
