"""What the kinds' ``predict`` share."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from inference.predictions import Aligned
from registry.kinds import Prediction, RunResult


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


def too_many_regions(count: int, limit: int) -> str:
    """Why a task's answer is refused: the one wording for every kind."""
    return (
        f"the model answered {count} results for the task, more than the {limit} allowed "
        "(the model's max_regions_per_task, else HUB_MAX_REGIONS_PER_TASK)"
    )


def _regions(predictions: list[Prediction]) -> int:
    return sum(len(p["result"]) for p in predictions if isinstance(p.get("result"), list))


def regions_bounded(run: RunResult, tasks: list[dict[str, Any]], *, limit: int) -> RunResult:
    """The run with each task whose predictions carry more than ``limit`` regions in all made that
    task's error: an empty prediction, counted, not cached; the other tasks keep their answers."""
    over = {i: n for i, predictions in enumerate(run.per_task) if (n := _regions(predictions)) > limit}
    if not over:
        return run
    reasons = {i: f"task {tasks[i].get('id')}: {too_many_regions(n, limit)}" for i, n in over.items()}
    return replace(
        run,
        per_task=[[] if i in over else predictions for i, predictions in enumerate(run.per_task)],
        errors=run.errors + len(over),
        last_error=reasons[max(over)],
        failed=run.failed | frozenset(over),
        reasons={**run.reasons, **reasons},
    )
