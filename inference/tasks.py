"""Celery tasks. The worker also reaps jobs whose worker died (a thread started when it is ready)."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import close_old_connections

from inference.training import training_job_run
from registry.jobs import jobs_reap

logger = logging.getLogger(__name__)


@shared_task(name="inference.tasks.run_training_job")
def run_training_job(job_id: int) -> str:
    close_old_connections()
    try:
        return training_job_run(job_id, worker=f"{socket.gethostname()}:{threading.get_native_id()}")
    finally:
        close_old_connections()


def _reap_forever(stop: threading.Event) -> None:
    while not stop.wait(max(settings.HUB_JOB_STALE_SECONDS / 3, 0.5)):
        try:
            close_old_connections()
            reaped = jobs_reap()
            if reaped:
                logger.warning("Requeued %d training job(s) whose worker stopped", reaped)
        except Exception:  # a database blip must not end the reaper
            logger.exception("Reaping training jobs failed")


@worker_ready.connect
def start_reaper(**kwargs: Any) -> None:
    threading.Thread(target=_reap_forever, args=(threading.Event(),), daemon=True, name="job-reaper").start()
