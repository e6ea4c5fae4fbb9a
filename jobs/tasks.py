"""The Celery side of background jobs: the task that runs a pre-annotation job, its publishing,
and the reaper thread each worker starts when it is ready."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import close_old_connections

from core.job_queue import job_message_send, reaper_start
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
    """Ask a worker to run the pre-annotation job; False when the broker is down (the reaper retries)."""
    return job_message_send(run_preannotation_job, job_id, what="pre-annotation", delay=delay)


def _reap() -> None:
    for job_id in preannotation_jobs_reap():
        job_publish(job_id)


@worker_ready.connect
def start_reaper(**kwargs: Any) -> None:
    reaper_start("pre-annotation", _reap)
