"""Pre-annotation jobs in progress, as a section of the admin's dashboard (``registry.dashboard``)."""

from __future__ import annotations

from django.urls import reverse

from jobs.models import PreannotationJob
from registry.dashboard import JobRow, JobSection

IN_PROGRESS = (*PreannotationJob.ACTIVE, PreannotationJob.Status.PAUSED)


def preannotation_jobs_section() -> JobSection:
    jobs = PreannotationJob.objects.filter(status__in=IN_PROGRESS).select_related(
        "model_project__model", "model_project__project__instance"
    )
    return JobSection(
        title="Pre-annotation jobs",
        rows=[
            JobRow(
                label=f"{job.model_project} (job {job.pk})",
                url=reverse("admin:jobs_preannotationjob_change", args=[job.pk]),
                status=job.status,
                progress=float(job.progress()["fraction"]),
                started_at=job.started_at,
            )
            for job in jobs[:50]
        ],
        list_url=reverse("admin:jobs_preannotationjob_changelist"),
    )
