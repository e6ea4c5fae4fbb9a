"""Training jobs on the Celery worker: asked for (one run per burst of events), published, claimed,
run by the model's kind, ended, and reaped when their worker stops. The job row is the truth; the
broker only carries "run job N", so a lost message or a dead worker never loses a job.

The task, its publishing and a job's run are in one module: a run asks for its own re-run."""

from __future__ import annotations

import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import DATABASE_DOWN
from core.job_queue import job_message_send, reaper_start
from registry.hot_path import state_stamp_renew
from registry.kinds import kind_get
from registry.models import ModelProject, TrainingJob
from training.versions import version_keep
from training.watch import Heartbeat, JobLog
from wow_ai_hub.model import JobCancelled

logger = logging.getLogger(__name__)

_publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-publisher")


@shared_task(name="training.run_training_job")
def run_training_job(job_id: int) -> str:
    close_old_connections()
    try:
        return training_job_run(job_id, worker=f"{socket.gethostname()}:{threading.get_native_id()}")
    finally:
        close_old_connections()


def job_publish(job_id: int, *, delay: float = 0.0) -> bool:
    """Ask a worker to run the training job; False when the broker is down (the reaper retries)."""
    return job_message_send(run_training_job, job_id, what="training", delay=delay)


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


def _claim(job_id: int, worker: str) -> TrainingJob | None:
    job = (
        TrainingJob.objects.filter(pk=job_id)
        .select_related("model_project__model", "model_project__project")
        .first()
    )
    if job is None or job.status != TrainingJob.Status.QUEUED:
        return None
    wait = (job.not_before - timezone.now()).total_seconds() if job.not_before else 0
    if wait > 0:
        job_publish(job.pk, delay=wait)  # debounce: more events may join it meanwhile
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.QUEUED).update(
                status=TrainingJob.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker
            )
    except Exception:  # the single-flight constraint: another run of this project is in progress
        logger.info("Job %s waits for the running job of its project", job_id)
        job_publish(job_id, delay=settings.HUB_TRAINING_DEBOUNCE_SECONDS)
        return None
    return job if claimed else None


def training_job_run(job_id: int, *, worker: str = "") -> str:
    """Run a queued job to its end; returns its final status ("" when it was not ours to run)."""
    job = _claim(job_id, worker)
    if job is None:
        return ""
    link = job.model_project
    heartbeat = Heartbeat(job.pk)
    job_log = JobLog(threading.get_ident())
    logging.getLogger().addHandler(job_log)
    heartbeat.start()
    status, error, version = TrainingJob.Status.SUCCEEDED, "", None

    def progress(fraction: float, message: str) -> None:
        if heartbeat.cancelled.is_set():
            raise JobCancelled
        try:
            TrainingJob.objects.filter(pk=job.pk).update(progress=fraction)
        except DATABASE_DOWN:
            # Progress is for the admin's eyes: a database restart must not fail the training itself.
            logger.warning("Job %s: progress not recorded, the database is unavailable", job.pk)
            connection.close()  # the next write connects afresh
        if message:
            logger.info("%s", message)

    try:
        # The admin's "Start training" is offered for every model: a kind that does not learn fails the job.
        result = kind_get(link.model.kind).train(job, link, progress)
        if result is not None:
            version = version_keep(link, job, result)
    except JobCancelled:
        status = TrainingJob.Status.CANCELLED
    except Exception as exc:
        logger.exception("Training job %s failed", job.pk)
        status, error = TrainingJob.Status.FAILED, f"{type(exc).__name__}: {exc}"
    finally:
        heartbeat.stopped.set()
        logging.getLogger().removeHandler(job_log)
    if status == TrainingJob.Status.SUCCEEDED:
        # A fit may change what the model answers without writing its state (files, a remote
        # backend's own training): predictions made once the job reads "succeeded" must come after it.
        state_stamp_renew(link.pk)
    with transaction.atomic():
        # The link's lock, as training_request takes it: the job's end and its re-run are one step, so
        # no reader sees "nothing queued or running" while events still wait for a run.
        ModelProject.objects.select_for_update().filter(pk=link.pk).first()
        # Only while still running: a job the reaper gave up on (a lost heartbeat) stays as it decided,
        # and its re-run reports for itself.
        TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING).update(
            status=status,
            progress=1.0 if status == TrainingJob.Status.SUCCEEDED else job.progress,
            finished_at=timezone.now(),
            error=error,
            resulting_version=version,
            log_tail="\n".join(job_log.lines),
        )
        if TrainingJob.objects.filter(pk=job.pk, rerun_requested=True).exists():
            training_request(link=link, trigger=job.trigger, debounce=False)
    return status


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


def _reap() -> None:
    reaped = jobs_reap()
    if reaped:
        logger.warning("Requeued %d training job(s) whose worker stopped", reaped)


@worker_ready.connect
def start_reaper(**kwargs: Any) -> None:
    reaper_start("training", _reap)
