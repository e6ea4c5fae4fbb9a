"""Training jobs: created, coalesced, published, reaped. The job row is the truth; the broker only
carries "run job N", so a lost message or a dead worker never loses a job."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hubsite.celery import app as celery_app
from registry.audit import audit_record
from registry.models import ModelProject, TrainingJob

logger = logging.getLogger(__name__)

RUN_TASK = "inference.tasks.run_training_job"
_publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-publisher")


def job_publish(job_id: int, *, delay: float = 0.0) -> bool:
    """Ask a worker to run the job; False (logged) when the broker is down: the reaper retries."""
    try:
        celery_app.send_task(RUN_TASK, args=[job_id], countdown=max(delay, 0.0))
    except Exception as exc:  # any broker failure: the job stays queued in the database
        logger.warning(
            "Could not publish training job %s (%s); it will be retried", job_id, type(exc).__name__
        )
        return False
    return True


def training_request(
    *, link: ModelProject, trigger: str = TrainingJob.Trigger.EVENT, events: int = 1, debounce: bool = True
) -> TrainingJob:
    """One training run per burst of events: join the queued job, or ask the running one for one more run."""
    delay = settings.HUB_TRAINING_DEBOUNCE_SECONDS if debounce else 0.0
    with transaction.atomic():
        ModelProject.objects.select_for_update().filter(pk=link.pk).first()  # serialise per model and project
        active = TrainingJob.objects.filter(
            model_project=link, status__in=[TrainingJob.Status.QUEUED, TrainingJob.Status.RUNNING]
        ).first()
        if active is not None:
            if active.status == TrainingJob.Status.RUNNING:
                active.rerun_requested = True
            active.events += events
            active.save(update_fields=["rerun_requested", "events"])
            return active
        job = TrainingJob.objects.create(
            model_project=link,
            trigger=trigger,
            events=events,
            not_before=timezone.now() + timedelta(seconds=delay),
        )
        # Published from a background thread: a slow or dead broker never delays a webhook's answer.
        transaction.on_commit(lambda: _publisher.submit(job_publish, job.pk, delay=delay))
    return job


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


def jobs_reap() -> int:
    """Fail running jobs whose worker stopped beating and queue their run again; re-publish queued
    jobs nobody picked up (a broker that was down). Safe to run anywhere, any number of times."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.HUB_JOB_STALE_SECONDS)
    reaped = 0
    for job in TrainingJob.objects.filter(status=TrainingJob.Status.RUNNING).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale)
    ):
        if TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING).update(
            status=TrainingJob.Status.FAILED,
            finished_at=now,
            error=f"The worker running it ({job.worker or 'unknown'}) stopped; the run was queued again.",
        ):
            reaped += 1
            training_request(link=job.model_project, trigger=job.trigger, events=job.events, debounce=False)
    for job in TrainingJob.objects.filter(status=TrainingJob.Status.QUEUED, not_before__lt=stale):
        job_publish(job.pk)
    return reaped
