"""The Celery side of background jobs: the task that runs a pre-annotation job, its publishing,
and the reaper thread each worker starts when it is ready."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import close_old_connections

from jobs.models import PreannotationJob
from jobs.worker import next_queued_job, preannotation_job_run, preannotation_jobs_reap

logger = logging.getLogger(__name__)


@shared_task(name="jobs.run_preannotation_job")
def run_preannotation_job(job_id: int) -> str:
    close_old_connections()
    try:
        status = preannotation_job_run(job_id, worker=f"{socket.gethostname()}:{threading.get_native_id()}")
        if status:
            model_id = (
                PreannotationJob.objects.filter(pk=job_id)
                .values_list("model_project__model_id", flat=True)
                .first()
            )
            following = next_queued_job(model_id) if model_id else None
            if following:
                job_publish(following)
        return status
    finally:
        close_old_connections()


def job_publish(job_id: int, *, delay: float = 0.0) -> bool:
    """Ask a worker to run the job; False (logged) when the broker is down: the reaper retries."""
    try:
        run_preannotation_job.apply_async(args=[job_id], countdown=max(delay, 0.0))
    except Exception as exc:  # any broker failure: the job stays queued in the database
        logger.warning(
            "Could not publish pre-annotation job %s (%s); the reaper retries", job_id, type(exc).__name__
        )
        return False
    return True


def _reap_forever(stop: threading.Event) -> None:
    while not stop.wait(max(settings.HUB_JOB_STALE_SECONDS / 3, 0.5)):
        try:
            close_old_connections()
            for job_id in preannotation_jobs_reap():
                job_publish(job_id)
        except Exception:  # a database blip must not end the reaper
            logger.exception("Reaping pre-annotation jobs failed")


@worker_ready.connect
def start_reaper(**kwargs: Any) -> None:
    threading.Thread(
        target=_reap_forever, args=(threading.Event(),), daemon=True, name="preannotation-reaper"
    ).start()
