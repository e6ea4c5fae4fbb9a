from __future__ import annotations

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


class Runner(ModelBackend, Protocol):
    def predict(self, call: PredictCall) -> list[list[Prediction]]:
        """Per task, in task order, the predictions the model made (possibly none)."""
