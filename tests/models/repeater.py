"""A repeater in label-studio-ml-backend's style: fit keeps the last annotation, predict repeats it."""

import json

from wow_ai_hub.model import LabelStudioMLBase


class Repeater(LabelStudioMLBase):
    def setup(self):
        if not self.has("model_version"):  # set once: fit bumps it
            self.set("model_version", "Repeater-v0.0.1")

    def predict(self, tasks, context=None, **kwargs):
        last = self.get("last_annotation")
        if not last:
            return []
        return [{"result": json.loads(last), "score": 0.5} for _ in tasks]

    def fit(self, event, data, **kwargs):
        self.set("last_annotation", json.dumps(self.annotation_of(data)))
        self.bump_model_version()

    def annotation_of(self, data):
        return data["annotation"]["result"]
