from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from registry.backends import ModelBackend
from registry.label_config import ParsedConfig
from registry.models import ModelProject, RegisteredModel

Prediction = dict[str, Any]


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


class Runner(ModelBackend, Protocol):
    # Whether the model's output goes through the project's class mappings (external models).
    uses_class_mappings: bool
    # Whether Label Studio's events train it (fit on a worker).
    supports_training: bool

    def predict(self, call: PredictCall) -> RunResult: ...
