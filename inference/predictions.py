"""Turning what a model returned into exactly one list of predictions per task."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from core.errors import ModelBadOutput
from registry.kinds import Prediction
from wow_ai_hub.response import ModelResponse


def _as_dict(item: Any) -> Any:
    return item.model_dump() if isinstance(item, BaseModel) else item


@dataclass(frozen=True)
class Aligned:
    """A model's answer as one list of predictions per task, in task order."""

    per_task: list[list[Prediction]]
    # Tasks that a short answer (fewer predictions than tasks) gave nothing for.
    missing: frozenset[int] = frozenset()


def _task_ids(tasks: list[dict[str, Any]]) -> list[Any] | None:
    """The tasks' ids when every task has its own int id, else None."""
    ids = [task.get("id") for task in tasks]
    if all(isinstance(i, int) and not isinstance(i, bool) for i in ids) and len(set(ids)) == len(ids):
        return ids
    return None


def _by_task(entries: list[Any], tasks: list[dict[str, Any]]) -> Aligned | None:
    """Predictions grouped by the task each names in its ``task`` field; None unless all name one."""
    ids = _task_ids(tasks)
    if ids is None or not all(isinstance(e, dict) and e.get("task") in ids for e in entries):
        return None
    position = {task_id: index for index, task_id in enumerate(ids)}
    per_task: list[list[Prediction]] = [[] for _ in tasks]
    for entry in entries:
        per_task[position[entry["task"]]].append(entry)
    return Aligned(per_task=per_task, missing=frozenset(i for i, found in enumerate(per_task) if not found))


def normalize_model_output(output: Any, tasks: list[dict[str, Any]], *, model_slug: str) -> Aligned | None:
    """Per task, the model's predictions as plain dicts.

    ``None``/``[]`` (nothing to predict) gives every task no prediction. Otherwise, when every
    prediction names a task of the batch in its ``task`` field, each goes to that task, whatever their
    count and order. Else one entry per task is taken in task order (as Label Studio does). Fewer
    entries than tasks give None: which task each belongs to is unknown, and the caller asks again
    one task at a time (``predictions_aligned``). More entries than tasks are a model bug.
    """
    if isinstance(output, ModelResponse):
        output.update_predictions_version()
        output = output.predictions
    elif isinstance(output, dict):
        output = output.get("predictions", output.get("results"))
    if output is None:
        return Aligned(per_task=[[] for _ in tasks])
    if not isinstance(output, list):
        raise ModelBadOutput(
            f"Model {model_slug} returned {type(output).__name__}, expected a list of predictions."
        )
    if not output:
        return Aligned(per_task=[[] for _ in tasks])
    entries = [_as_dict(entry) for entry in output]
    by_task = _by_task(entries, tasks)
    if by_task is not None:
        return by_task
    if len(entries) < len(tasks):
        return None
    if len(entries) > len(tasks):
        raise ModelBadOutput(
            f"Model {model_slug} returned {len(entries)} predictions for {len(tasks)} tasks;"
            " it must return at most one per task (or name each prediction's task)."
        )
    per_task: list[list[Prediction]] = []
    for entry in entries:
        if entry is None:
            per_task.append([])
        elif isinstance(entry, list):
            per_task.append([_as_dict(item) for item in entry])
        else:
            per_task.append([entry])
    return Aligned(per_task=per_task)


def predictions_aligned(
    ask: Callable[[list[dict[str, Any]]], Any], tasks: list[dict[str, Any]], *, model_slug: str
) -> Aligned:
    """Ask the model (``ask(tasks)`` returns its raw answer) and align the answer to ``tasks``.

    A short answer whose predictions do not name their tasks is asked again one task at a time, as
    Label Studio itself does when a backend answers one prediction for several tasks: guessing the
    order would put one task's regions on another (a model that skips a task with no text shifts
    every later answer by one). Tasks still without a prediction are reported as ``missing``.
    """
    aligned = normalize_model_output(ask(tasks), tasks, model_slug=model_slug)
    if aligned is not None:
        return aligned
    per_task: list[list[Prediction]] = []
    for task in tasks:
        one = normalize_model_output(ask([task]), [task], model_slug=model_slug)
        per_task.append(one.per_task[0] if one is not None else [])
    return Aligned(per_task=per_task, missing=frozenset(i for i, found in enumerate(per_task) if not found))


def label_studio_extras(prediction: Prediction) -> Prediction:
    """The fields Label Studio keeps on a prediction besides ``result``, ``score`` and ``model_version``,
    those of them the model gave with a type Label Studio stores: ``cluster`` an int, ``mislabeling``
    a finite number, ``neighbors`` any JSON value."""
    extras: Prediction = {}
    cluster = prediction.get("cluster")
    if isinstance(cluster, int) and not isinstance(cluster, bool):
        extras["cluster"] = cluster
    mislabeling = finite_number(prediction.get("mislabeling"))
    if mislabeling is not None:
        extras["mislabeling"] = mislabeling
    neighbors = prediction.get("neighbors")
    if neighbors is not None:
        try:
            json.dumps(neighbors, allow_nan=False)
        except (TypeError, ValueError, OverflowError):
            pass  # not JSON: Label Studio could not store it either
        else:
            extras["neighbors"] = neighbors
    return extras


def prediction_score(prediction: Prediction) -> float:
    """The prediction's own score if it is a finite number, else the mean of its regions' scores, else 0."""
    score = finite_number(prediction.get("score"))
    if score is not None:
        return score
    region_scores = [
        number
        for r in prediction.get("result") or []
        if isinstance(r, dict) and (number := finite_number(r.get("score"))) is not None
    ]
    return sum(region_scores) / len(region_scores) if region_scores else 0.0


def finite_number(value: Any) -> float | None:
    """``value`` as a float if it is a number a float can hold, else None. JSON numbers are unbounded:
    an integer of a few hundred digits is a valid answer that ``float()`` and ``math.isfinite``
    refuse with OverflowError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
