"""What the admin sees of a running training job: its heartbeat (which also hears a cancel request)
and the last lines it logged."""

from __future__ import annotations

import logging
import threading
from collections import deque

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.errors import DATABASE_DOWN
from registry.models import TrainingJob

logger = logging.getLogger(__name__)


class JobLog(logging.Handler):
    """The last lines logged by the thread running the job, for the admin."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(level=logging.INFO)
        self.thread_id = thread_id
        self.lines: deque[str] = deque(maxlen=50)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            self.lines.append(self.format(record))


class Heartbeat(threading.Thread):
    def __init__(self, job_id: int) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id = job_id
        self.stopped = threading.Event()
        self.cancelled = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.HUB_JOB_HEARTBEAT_SECONDS):
                try:
                    TrainingJob.objects.filter(pk=self.job_id).update(heartbeat_at=timezone.now())
                    if TrainingJob.objects.filter(pk=self.job_id, cancel_requested=True).exists():
                        self.cancelled.set()
                except DATABASE_DOWN:
                    # Beat on through a database restart: a silent job would be reaped as dead and run twice.
                    logger.warning("Job %s: heartbeat not recorded, the database is unavailable", self.job_id)
                    connection.close()  # the next beat connects afresh
        finally:
            connection.close()
