from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from inference.predictions import Aligned, Prediction
from registry.backends import ModelBackend
from registry.label_config import ParsedConfig
from registry.models import ModelProject, RegisteredModel


@dataclass(frozen=True)
class PredictCall:
    """One ``/predict`` for one model, after the request has been parsed and the project resolved."""

    model: RegisteredModel
    link: ModelProject | None
    label_config: str
    parsed_config: ParsedConfig
    tasks: list[dict[str, Any]]
    context: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    state: str = ""  # the stamp of the model's state in the project (registry.hot_path.state_stamp)


@dataclass
class RunResult:
    """Per task, in task order, the predictions a model made (possibly none), and what was lost on the way."""

    per_task: list[list[Prediction]]
    unmapped: int = 0  # results of classes with no label in the project
    dropped: int = 0  # results the Hub could not draw with the project's control tags
    errors: int = 0  # tasks that got no prediction because a call failed
    last_error: str = ""
    failed: frozenset[int] = frozenset()  # indexes of those tasks (their answers are not cached)
    reasons: dict[int, str] = field(default_factory=dict)  # why each of them failed
    class_results: Counter[str] = field(default_factory=Counter)  # results per model class, mapped or not
    model_version: str | None = None  # the version the model named itself, if it did (SDK models)


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


class Runner(ModelBackend, Protocol):
    # Whether the model's output goes through the project's class mappings (external models).
    uses_class_mappings: bool
    # Whether Label Studio's events train it (fit on a worker).
    supports_training: bool

    def predict(self, call: PredictCall) -> RunResult: ...
