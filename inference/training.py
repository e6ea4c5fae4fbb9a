"""Running one training job on a worker: a Python model applies the stored events, calls ``fit`` and
keeps a version; a remote ML backend is sent the stored events (``TRAINERS``)."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from core.errors import DATABASE_DOWN
from inference.runners.python import DatabaseStateStore, build_instance, train_output_of
from registry.hot_path import state_stamp_renew
from registry.jobs import job_publish, training_request
from registry.model_server import model_server_call
from registry.models import (
    Annotation,
    ModelProject,
    ModelState,
    ModelVersion,
    RegisteredModel,
    TrainingJob,
    WebhookEvent,
)
from registry.services import model_project_activate
from wow_ai_hub.events import ANNOTATION_DELETES, ANNOTATION_UPSERTS, DEFAULT_TRAIN_EVENTS, START_TRAINING
from wow_ai_hub.model import JobCancelled, call_accepting, uses_classic_fit

logger = logging.getLogger(__name__)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


def events_apply(link: ModelProject) -> list[WebhookEvent]:
    """Apply the link's unprocessed events, oldest first, to its project's annotations; all of them."""
    applied = []
    events = WebhookEvent.objects.filter(model=link.model, project=link.project, processed_at__isnull=True)
    for event in events.order_by("received_at", "pk"):
        payload = event.payload
        if event.action in ANNOTATION_UPSERTS:
            tasks = {t.get("id"): t for t in _as_list(payload.get("task")) if isinstance(t, dict)}
            for annotation in _as_list(payload.get("annotation")):
                if not isinstance(annotation, dict) or not isinstance(annotation.get("id"), int):
                    continue
                task_id = (
                    annotation.get("task")
                    if not isinstance(annotation.get("task"), dict)
                    else annotation["task"].get("id")
                )
                task = tasks.get(task_id) or (next(iter(tasks.values())) if len(tasks) == 1 else {})
                Annotation.objects.update_or_create(
                    project=link.project,
                    ls_annotation_id=annotation["id"],
                    defaults={
                        "ls_task_id": task_id if isinstance(task_id, int) else task.get("id"),
                        "task_data": task.get("data") or {},
                        "result": annotation.get("result") or [],
                    },
                )
        elif event.action in ANNOTATION_DELETES:
            deleted = _as_list(payload.get("annotations") or payload.get("annotation"))
            ids = [a["id"] for a in deleted if isinstance(a, dict) and isinstance(a.get("id"), int)]
            Annotation.objects.filter(project=link.project, ls_annotation_id__in=ids).delete()
        WebhookEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now())
        applied.append(event)
    return applied


def annotated_tasks(link: ModelProject) -> list[dict[str, Any]]:
    """The project's annotated tasks as the classic ``fit(completions, workdir)`` takes them: each task
    with its ``data`` and its ``annotations`` (also under their old name, ``completions``)."""
    tasks: dict[Any, dict[str, Any]] = {}
    for annotation in Annotation.objects.filter(project=link.project).order_by("pk"):
        key = (
            annotation.ls_task_id if annotation.ls_task_id is not None else f"a{annotation.ls_annotation_id}"
        )
        task = tasks.setdefault(
            key, {"id": annotation.ls_task_id, "data": annotation.task_data, "annotations": []}
        )
        task["annotations"].append({"id": annotation.ls_annotation_id, "result": annotation.result})
    for task in tasks.values():
        task["completions"] = task["annotations"]
    return list(tasks.values())


def training_workdir(job: TrainingJob, link: ModelProject) -> Path:
    """The folder a classic ``fit`` writes its checkpoints to, kept with the version it makes."""
    return settings.DATA_DIR / "training" / link.model.slug / f"project-{link.project_id}" / f"job-{job.pk}"


class _JobLog(logging.Handler):
    """The last lines logged by the thread running the job, for the admin."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(level=logging.INFO)
        self.thread_id = thread_id
        self.lines: deque[str] = deque(maxlen=50)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            self.lines.append(self.format(record))


class _Heartbeat(threading.Thread):
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


def _snapshot(link: ModelProject) -> dict[str, str]:
    return dict(
        ModelState.objects.filter(model_project=link).exclude(key="extra_params").values_list("key", "value")
    )


Progress = Callable[[float, str], None]
Trainer = Callable[[TrainingJob, ModelProject, Progress], Any]


def _fit_python_model(job: TrainingJob, link: ModelProject, progress: Progress) -> Any:
    """Apply the stored events to the project's annotations, deliver the other events the model asked
    for one by one, then call ``fit`` once with the annotations; the last result that is not None
    becomes a new version. A classic ``fit(completions, workdir)`` gets the annotated tasks and a folder."""
    events = events_apply(link)
    instance = build_instance(
        link.model,
        state=DatabaseStateStore(link.pk),
        project_id=str(link.project.ls_project_id),
        label_config=link.label_config or "<View></View>",
        parsed_config=link.parsed_label_config,
        link_id=link.pk,
        progress=progress,
        train_output=train_output_of(link),
    )
    if uses_classic_fit(type(instance)):
        return _fit_classic(instance, job, link)
    result = None
    for event in events:
        if event.action not in DEFAULT_TRAIN_EVENTS:  # one the model's class asked for
            delivered = instance.process_event(event.action, event.payload, job.pk, {})
            result = delivered if delivered is not None else result
    learning = [e for e in events if e.action in DEFAULT_TRAIN_EVENTS]
    if not learning and job.trigger == TrainingJob.Trigger.EVENT:
        return result
    last = learning[-1] if learning else None
    annotations = [a.as_fit_data() for a in Annotation.objects.filter(project=link.project).order_by("pk")]
    action = last.action if last and job.trigger == TrainingJob.Trigger.EVENT else START_TRAINING
    data = {**(last.payload if last else {}), "annotations": annotations}
    logger.info("Training %s on %d annotations (%s)", link, len(annotations), action)
    fitted = instance.process_event(action, data, job.pk, {})
    return fitted if fitted is not None else result


def _fit_classic(instance: Any, job: TrainingJob, link: ModelProject) -> Any:
    """``fit(completions, workdir=None, **kwargs)``: a folder of its own for this run, removed when
    the run makes no version."""
    tasks = annotated_tasks(link)
    workdir = training_workdir(job, link)
    workdir.mkdir(parents=True, exist_ok=True)
    logger.info("Training %s on %d annotated tasks in %s", link, len(tasks), workdir)
    result = None
    try:
        result = call_accepting(instance.fit, tasks, workdir=str(workdir))
    finally:
        if result is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def _forward_to_backend(job: TrainingJob, link: ModelProject, progress: Progress) -> None:
    """A remote ML backend learns by itself: each stored event goes to its ``/webhook`` as Label Studio
    sent it, oldest first, and is marked processed once the backend took it (2xx). A failure ends the
    run with the rest still stored, so the next run sends them, in order; none is sent twice after
    it was taken. The backend keeps its own versions."""
    events = list(
        WebhookEvent.objects.filter(
            model=link.model, project=link.project, processed_at__isnull=True
        ).order_by("received_at", "pk")
    )
    url = link.model.url.rstrip("/") + "/webhook"
    if not events and job.trigger == TrainingJob.Trigger.MANUAL:  # the admin's "Start training"
        project = {"id": link.project.ls_project_id, "label_config": link.label_config}
        model_server_call(link.model, url, {"action": "START_TRAINING", "project": project})
    for sent, event in enumerate(events, start=1):
        # /train's legacy bodies carry no action: they are stored as START_TRAINING.
        model_server_call(link.model, url, {"action": event.action, **event.payload})
        WebhookEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now())
        progress(sent / len(events), "")
    logger.info("Forwarded %d events of %s to %s", len(events), link, url)


# How each kind that learns from Label Studio's events (``supports_training``) does it.
TRAINERS: dict[str, Trainer] = {
    "python": _fit_python_model,
    "ml_backend": _forward_to_backend,
}


def _trainer(model: RegisteredModel) -> Trainer:
    trainer = TRAINERS.get(model.kind)
    if trainer is None:  # the admin's "Start training" is offered for every model
        raise ValueError(f"{model.get_kind_display()} models do not learn from Label Studio's events.")
    return trainer


def training_job_run(job_id: int, *, worker: str = "") -> str:
    """Run a queued job to its end; returns its final status ("" when it was not ours to run)."""
    job = _claim(job_id, worker)
    if job is None:
        return ""
    link = job.model_project
    heartbeat = _Heartbeat(job.pk)
    job_log = _JobLog(threading.get_ident())
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
        result = _trainer(link.model)(job, link, progress)
        if result is not None:
            version = _keep_version(link, job, result)
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


def _keep_version(link: ModelProject, job: TrainingJob, result: Any) -> int:
    with transaction.atomic():
        # Numbered per model across its projects: Label Studio asks /versions without naming a project,
        # so "<slug>@<registered>.<n>" must mean one training run wherever it is listed. The model's
        # row is the lock that keeps two projects' runs from taking the same number.
        RegisteredModel.objects.select_for_update().filter(pk=link.model_id).first()
        versions = ModelVersion.objects.filter(model_project__model_id=link.model_id)
        latest = versions.aggregate(Max("number"))["number__max"]
        number = (latest or 0) + 1
        # Whatever fit returned, stored as JSON (numpy numbers and the like as text).
        metrics = json.loads(
            json.dumps(result if isinstance(result, dict) else {"result": result}, default=str)
        )
        ModelVersion.objects.create(
            model_project=link, number=number, state=_snapshot(link), metrics=metrics, job=job
        )
        model_project_activate(link=link, number=number, actor=f"system:training-job:{job.pk}")
    logger.info("%s is now at version %s", link, number)
    return number
