"""What a training run learns from: the link's stored webhook events applied to its project's
annotations, the annotated tasks as a classic ``fit`` takes them, and the folder it writes to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from registry.models import Annotation, ModelProject, TrainingJob, WebhookEvent
from wow_ai_hub.events import ANNOTATION_DELETES, ANNOTATION_UPSERTS


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
