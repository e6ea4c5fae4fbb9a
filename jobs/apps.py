from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Background jobs on the Celery worker: bulk pre-annotation of Label Studio projects (training
    jobs are to move here from ``registry.jobs`` and ``inference.training``)."""

    name = "jobs"
    verbose_name = "Background jobs"
