"""A pre-annotation job's life on the workers: claimed (one running job per model), run, ended,
and, when its worker stops beating, given back to the queue to resume from its cursor."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone

from core.errors import DATABASE_DOWN, HubError
from jobs.models import PreannotationJob
from jobs.preannotate import JobRun, JobStopped
from registry.models import RegisteredModel

logger = logging.getLogger(__name__)
Status = PreannotationJob.Status


class JobControl(threading.Thread):
    """Beats the job's heartbeat and watches for pause and cancel requests (and a lost claim)."""

    def __init__(self, job_id: int, worker: str) -> None:
        super().__init__(daemon=True, name=f"preannotate-heartbeat-{job_id}")
        self.job_id = job_id
        self.worker = worker
        self.stopped = threading.Event()
        self.request = ""  # "cancel", "pause", or "lost"

    def stop_reason(self) -> str:
        return self.request

    def beat(self) -> None:
        rows = PreannotationJob.objects.filter(pk=self.job_id, status=Status.RUNNING, worker=self.worker)
        if not rows.update(heartbeat_at=timezone.now()):
            self.request = "lost"
            return
        flags = rows.values_list("cancel_requested", "pause_requested").first()
        if flags and flags[0]:
            self.request = "cancel"
        elif flags and flags[1]:
            self.request = self.request or "pause"

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.HUB_JOB_HEARTBEAT_SECONDS):
                try:
                    self.beat()
                except DATABASE_DOWN:
                    logger.warning("Pre-annotation job %s: heartbeat not recorded", self.job_id)
                    connection.close()
        finally:
            connection.close()


def _claim(job_id: int, worker: str) -> PreannotationJob | None:
    """The job, now running on this worker; None when it is not queued or its model is busy with
    another job (that job's end publishes it)."""
    with transaction.atomic():
        job = (
            PreannotationJob.objects.select_related(
                "model_project__model", "model_project__project__instance"
            )
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status != Status.QUEUED:
            return None
        model_id = job.model_project.model_id
        # The model's row serialises claims: one running job per model, whatever the workers.
        RegisteredModel.objects.select_for_update().filter(pk=model_id).first()
        if (
            PreannotationJob.objects.filter(model_project__model_id=model_id, status=Status.RUNNING)
            .exclude(pk=job_id)
            .exists()
        ):
            return None
        now = timezone.now()
        claimed = PreannotationJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
            status=Status.RUNNING,
            worker=worker,
            heartbeat_at=now,
            run_started_at=now,
            started_at=job.started_at or now,
            error="",
        )
    return job if claimed else None


def next_queued_job(model_id: int) -> int | None:
    """The oldest queued job of this model, to start when its running one ends."""
    return (
        PreannotationJob.objects.filter(model_project__model_id=model_id, status=Status.QUEUED)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )


def preannotation_job_run(job_id: int, *, worker: str) -> str:
    """Run a queued job until it ends, pauses or is cancelled; its new status ("" if not ours)."""
    job = _claim(job_id, worker)
    if job is None:
        return ""
    started = time.monotonic()
    control = JobControl(job.pk, worker)
    control.start()
    status: str = Status.FAILED
    error = ""
    try:
        status = JobRun(job, worker, control.stop_reason).execute()
    except JobStopped:
        logger.warning("Pre-annotation job %s was given to another worker; this run stops", job.pk)
        return ""
    except HubError as exc:
        error = str(exc.detail)
    except Http404 as exc:
        error = str(exc)
    except Exception as exc:
        logger.exception("Pre-annotation job %s failed", job.pk)
        error = f"{type(exc).__name__}: {exc}"
    finally:
        control.stopped.set()
    now = timezone.now()
    fields: dict[str, object] = {
        "status": status,
        "error": error,
        "worker": "",
        "heartbeat_at": now,
        "busy_seconds": job.busy_seconds + (time.monotonic() - started),
    }
    if status == Status.PAUSED:
        fields["pause_requested"] = False
    if status in PreannotationJob.FINISHED:
        fields["finished_at"] = now
    if status == Status.SUCCEEDED:
        fields["total"] = F("done") + F("failed") + F("skipped")
    PreannotationJob.objects.filter(pk=job.pk, status=Status.RUNNING, worker=worker).update(**fields)
    logger.info("Pre-annotation job %s: %s %s", job.pk, status, error)
    return status


def preannotation_jobs_reap() -> list[int]:
    """Give running jobs whose worker stopped beating back to the queue (they resume from their
    cursor), and return the ids of queued jobs to publish (again): those, and those nobody took."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.HUB_JOB_STALE_SECONDS)
    publish = []
    for job in PreannotationJob.objects.filter(status=Status.RUNNING, heartbeat_at__lt=stale):
        if PreannotationJob.objects.filter(pk=job.pk, status=Status.RUNNING, worker=job.worker).update(
            status=Status.QUEUED, worker="", heartbeat_at=now
        ):
            logger.warning("Pre-annotation job %s: its worker (%s) stopped; it resumes", job.pk, job.worker)
            publish.append(job.pk)
    waiting = PreannotationJob.objects.filter(status=Status.QUEUED).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, created_at__lt=stale)
    )
    for pk in waiting.values_list("pk", flat=True):
        if PreannotationJob.objects.filter(pk=pk, status=Status.QUEUED).update(heartbeat_at=now):
            publish.append(pk)
    return publish
