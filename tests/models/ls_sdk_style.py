"""A model file written the way label-studio-ml-backend 2.x examples are written.

Only the two import lines differ from the original SDK's:
    from label_studio_ml.model import LabelStudioMLBase
    from label_studio_ml.response import ModelResponse
"""

import logging
from typing import List, Dict, Optional

from wow_ai_hub.model import LabelStudioMLBase
from wow_ai_hub.response import ModelResponse
from label_studio_sdk.label_interface.objects import PredictionValue

logger = logging.getLogger(__name__)


class KeywordSentiment(LabelStudioMLBase):
    """Keyword-based sentiment, in the style of the SDK's example models."""

    def setup(self):
        self.set("model_version", f"{self.__class__.__name__}-v0.0.1")

    def predict(self, tasks: List[Dict], context: Optional[Dict] = None, **kwargs) -> ModelResponse:
        from_name, to_name, value = self.label_interface.get_first_tag_occurence("Choices", "Text")
        labels = self.label_interface.get_tag(from_name).labels
        label_map = self.build_label_map(from_name, ["positive", "negative"])
        threshold = float(self.extra_params.get("threshold", 0.0))
        predictions = []
        for task in tasks:
            text = task["data"][value].lower()
            guess = "positive" if any(w in text for w in ("good", "great", "love")) else "negative"
            label = label_map.get(guess, labels[0])
            score = 0.9 if guess == "positive" else 0.6
            if score < threshold:
                predictions.append(PredictionValue(result=[], score=0.0))
                continue
            predictions.append(
                PredictionValue(
                    score=score,
                    result=[
                        {
                            "from_name": from_name,
                            "to_name": to_name,
                            "type": "choices",
                            "value": {"choices": [label]},
                            "score": score,
                        }
                    ],
                )
            )
        self.set("last_batch_size", str(len(tasks)))
        return ModelResponse(predictions=predictions, model_version=self.get("model_version"))

    def fit(self, event, data, **kwargs):
        logger.info("fit called with %s", event)
        self.set("last_event", event)
