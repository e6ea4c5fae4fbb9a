from __future__ import annotations

from django.apps import AppConfig


class TrainingConfig(AppConfig):
    """Training: jobs, their Celery task and worker code, the events models learn from. Its models
    (``TrainingJob``, ``ModelVersion``, ``WebhookEvent``, ``Annotation``) are the registry's."""

    name = "training"
    verbose_name = "Training"

    def ready(self) -> None:
        from registry.dashboard import register_job_section
        from training import metrics
        from training.dashboard import training_jobs_section

        register_job_section(training_jobs_section)
        metrics.connect()
