"""Background jobs whose row in the database is the truth, while the broker only carries "run job N":
publishing that never raises, and the reaper loop that each Celery worker runs beside its jobs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from celery import Task
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


def job_message_send(task: Task, job_id: int, *, what: str, delay: float = 0.0) -> bool:
    """Ask a worker to run job ``job_id`` with ``task``; False (logged) when the broker is down: the
    job stays queued in the database and the reaper publishes it again."""
    try:
        task.apply_async(args=[job_id], countdown=max(delay, 0.0))
    except Exception as exc:  # any broker failure
        logger.warning(
            "Could not publish %s job %s (%s); the reaper retries", what, job_id, type(exc).__name__
        )
        return False
    return True


def reaper_start(what: str, reap: Callable[[], None]) -> None:
    """Run ``reap`` every third of ``HUB_JOB_STALE_SECONDS`` (at least every 0.5 s) in a daemon thread
    of this process, for as long as it lives; a failure (a database blip) is logged, never the end."""

    def reap_forever() -> None:
        while True:
            time.sleep(max(settings.HUB_JOB_STALE_SECONDS / 3, 0.5))
            try:
                close_old_connections()
                reap()
            except Exception:
                logger.exception("Reaping %s jobs failed", what)

    threading.Thread(target=reap_forever, daemon=True, name=f"{what}-reaper").start()
