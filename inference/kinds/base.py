"""What the kinds' ``predict`` share."""

from __future__ import annotations

from typing import Any

from inference.predictions import Aligned
from registry.kinds import RunResult


def run_result_of(aligned: Aligned, tasks: list[dict[str, Any]], *, model_slug: str) -> RunResult:
    """The result of a model's aligned answer: each task a short answer left without a prediction
    gets an empty one, counted as a task error, and is not cached."""
    if not aligned.missing:
        return RunResult(per_task=aligned.per_task)
    missing = sorted(aligned.missing)
    ids = ", ".join(str(tasks[i].get("id")) for i in missing[:5]) + (", ..." if len(missing) > 5 else "")
    return RunResult(
        per_task=aligned.per_task,
        errors=len(missing),
        last_error=f"Model {model_slug} gave no prediction for {len(missing)} of {len(tasks)} task(s): {ids}",
        failed=frozenset(missing),
        reasons={i: f"the model gave no prediction for task {tasks[i].get('id')}" for i in missing},
    )
