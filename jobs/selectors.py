"""Reads of pre-annotation jobs, as the admin's progress page, the CLI and the REST API show them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from jobs.models import PreannotationJob


def _jobs() -> QuerySet[PreannotationJob]:
    return PreannotationJob.objects.select_related("model_project__model", "model_project__project__instance")


def preannotation_job_get(*, job_id: int) -> PreannotationJob | None:
    return _jobs().filter(pk=job_id).first()


def preannotation_jobs_list(
    *, model: str | None = None, project: int | None = None, status: str | None = None
) -> QuerySet[PreannotationJob]:
    """Jobs newest first, of one model (slug), Label Studio project id or status when given."""
    jobs = _jobs()
    if model is not None:
        jobs = jobs.filter(model_project__model__slug=model)
    if project is not None:
        jobs = jobs.filter(model_project__project__ls_project_id=project)
    if status is not None:
        jobs = jobs.filter(status=status)
    return jobs.order_by("-created_at", "-pk")


def preannotation_job_state(job: PreannotationJob, *, failures: int = 20) -> dict[str, Any]:
    """The job as JSON: what it does, where it is, and its first failures with their reasons."""
    link = job.model_project
    return {
        "id": job.pk,
        "model": link.model.slug,
        "model_version": job.model_version,
        "project": link.project.ls_project_id,
        "label_studio_url": job.label_studio_url or link.project.instance.base_url,
        "selection": job.selection,
        "view_id": job.view_id,
        "task_ids": job.task_ids if job.selection != PreannotationJob.Selection.ALL else None,
        "mode": job.mode,
        "status": job.status,
        "pause_requested": job.pause_requested,
        "cancel_requested": job.cancel_requested,
        "error": job.error,
        **job.progress(),
        "retry_of": job.retry_of_id,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "heartbeat_at": job.heartbeat_at,
        "worker": job.worker,
        "failures": [
            {"task": f.ls_task_id, "reason": f.reason} for f in job.failures.all()[: max(failures, 0)]
        ],
    }
