from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Background jobs on the Celery worker: bulk pre-annotation of Label Studio projects (training
    jobs are beside them, in ``training``)."""

    name = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from jobs.dashboard import preannotation_jobs_section
        from registry.dashboard import register_job_section

        register_job_section(preannotation_jobs_section)
