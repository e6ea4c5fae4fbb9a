"""Turning what a model returned into exactly one list of predictions per task."""

from __future__ import annotations

import math
from typing import Any, cast

from pydantic import BaseModel

from hubsite.errors import ModelBadOutput
from inference.sdk.response import ModelResponse

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
    score = prediction.get("score")
    if _is_finite_number(score):
        return float(cast(float, score))
    region_scores = [
        r["score"]
        for r in prediction.get("result") or []
        if isinstance(r, dict) and _is_finite_number(r.get("score"))
    ]
    return float(sum(region_scores) / len(region_scores)) if region_scores else 0.0


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
