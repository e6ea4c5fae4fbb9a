"""Training jobs in progress on the admin's dashboard."""

from __future__ import annotations

from django.urls import reverse

from registry.dashboard import JobRow, JobSection
from registry.models import TrainingJob


def training_jobs_section() -> JobSection:
    jobs = TrainingJob.objects.filter(
        status__in=(TrainingJob.Status.QUEUED, TrainingJob.Status.RUNNING)
    ).select_related("model_project__model", "model_project__project__instance")
    return JobSection(
        title="Training jobs",
        rows=[
            JobRow(
                label=f"{job.model_project} (job {job.pk})",
                url=reverse("admin:registry_trainingjob_change", args=[job.pk]),
                status=job.status,
                progress=job.progress,
                started_at=job.started_at,
            )
            for job in jobs[:50]
        ],
        list_url=reverse("admin:registry_trainingjob_changelist"),
    )
