"""How a Python model learns: the stored events applied, then ``fit`` (new style or classic)."""

from __future__ import annotations

import logging
import shutil
from typing import Any

from inference.kinds.python.loading import DatabaseStateStore, build_instance, train_output_of
from registry.kinds import Progress
from registry.models import Annotation, ModelProject, TrainingJob
from training.annotations import annotated_tasks, events_apply, training_workdir
from training.workdirs import workdir_keep
from wow_ai_hub.events import DEFAULT_TRAIN_EVENTS, START_TRAINING
from wow_ai_hub.model import call_accepting, uses_classic_fit

logger = logging.getLogger(__name__)


def fit(job: TrainingJob, link: ModelProject, progress: Progress) -> Any:
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
    the run makes no version, and copied to the training storage (if set) when it makes one."""
    tasks = annotated_tasks(link)
    workdir = training_workdir(job, link)
    workdir.mkdir(parents=True, exist_ok=True)
    logger.info("Training %s on %d annotated tasks in %s", link, len(tasks), workdir)
    result = None
    try:
        result = call_accepting(instance.fit, tasks, workdir=str(workdir))
        if result is not None:
            workdir_keep(workdir)
    finally:
        if result is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return result
