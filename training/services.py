"""Starting and cancelling training for someone (the admin, the REST API): audited under their name."""

from __future__ import annotations

from django.utils import timezone

from registry.audit import audit_record
from registry.models import ModelProject, TrainingJob
from training.tasks import training_request


def job_cancel(job: TrainingJob) -> bool:
    """Queued jobs stop at once; a running one stops at its next progress report."""
    if TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.QUEUED).update(
        status=TrainingJob.Status.CANCELLED, finished_at=timezone.now()
    ):
        return True
    return bool(
        TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING).update(cancel_requested=True)
    )


def training_start(*, link: ModelProject, actor: str) -> TrainingJob:
    """Someone asked for a training run now (the admin's "Start training", the API): at once, audited."""
    job = training_request(link=link, trigger=TrainingJob.Trigger.MANUAL, debounce=False)
    audit_record(actor=actor, action="start_training", obj=link, changes={"job": job.pk})
    return job


def training_cancel(*, job: TrainingJob, actor: str) -> bool:
    """Cancel a job for someone (see ``job_cancel``), audited; False when it had already finished."""
    done = job_cancel(job)
    if done:
        audit_record(actor=actor, action="cancel_training", obj=job.model_project, changes={"job": job.pk})
    return done
