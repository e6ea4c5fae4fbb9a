"""Turning what a model returned into exactly one list of predictions per task."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from hubsite.errors import ModelBadOutput
from wow_ai_hub.response import ModelResponse

Prediction = dict[str, Any]


def _as_dict(item: Any) -> Any:
    return item.model_dump() if isinstance(item, BaseModel) else item


def normalize_model_output(output: Any, task_count: int, *, model_slug: str) -> list[list[Prediction]]:
    """Per task, the model's predictions as plain dicts.

    ``None``/``[]`` (nothing to predict) gives every task no prediction; any other count than one
    entry per task is a model bug and is reported as such rather than guessed at.
    """
    if isinstance(output, ModelResponse):
        output.update_predictions_version()
        output = output.predictions
    elif isinstance(output, dict):
        output = output.get("predictions", output.get("results"))
    if output is None:
        return [[] for _ in range(task_count)]
    if not isinstance(output, list):
        raise ModelBadOutput(
            f"Model {model_slug} returned {type(output).__name__}, expected a list of predictions."
        )
    if not output:
        return [[] for _ in range(task_count)]
    if len(output) != task_count:
        raise ModelBadOutput(
            f"Model {model_slug} returned {len(output)} predictions for {task_count} tasks;"
            " it must return one per task."
        )
    per_task: list[list[Prediction]] = []
    for entry in output:
        entry = _as_dict(entry)
        if entry is None:
            per_task.append([])
        elif isinstance(entry, list):
            per_task.append([_as_dict(item) for item in entry])
        else:
            per_task.append([entry])
    return per_task


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
