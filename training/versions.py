"""Keeping what a training run made as a trained version of the model in its project."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import transaction
from django.db.models import Max

from registry.models import ModelProject, ModelState, ModelVersion, RegisteredModel, TrainingJob
from registry.services import model_project_activate

logger = logging.getLogger(__name__)


def _snapshot(link: ModelProject) -> dict[str, str]:
    return dict(
        ModelState.objects.filter(model_project=link).exclude(key="extra_params").values_list("key", "value")
    )


def version_keep(link: ModelProject, job: TrainingJob, result: Any) -> int:
    """A new trained version of the link: the project's model state now, what ``fit`` returned as its
    metrics; activated at once (``model_project_activate``, the one writer of ``active_version``)."""
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
