from __future__ import annotations

from collections.abc import Sequence

from label_studio_sdk.label_interface.objects import PredictionValue
from pydantic import BaseModel, Field

# What a model gives for one task: one prediction, or several.
SingleTaskPredictions = PredictionValue | Sequence[PredictionValue]


class ModelResponse(BaseModel):
    """What ``predict`` may return instead of a plain list: predictions plus the version that made them."""

    model_version: str | None = None
    predictions: Sequence[SingleTaskPredictions] = Field(default_factory=list)

    def has_model_version(self) -> bool:
        return bool(self.model_version)

    def update_predictions_version(self) -> None:
        """Give predictions without a version the response's version."""
        for item in self.predictions:
            for prediction in [item] if isinstance(item, PredictionValue) else item:
                if not prediction.model_version:
                    prediction.model_version = self.model_version

    def set_version(self, version: str) -> None:
        self.model_version = version
        self.update_predictions_version()
