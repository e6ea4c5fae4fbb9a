"""A model that keeps what it learns per project through ``self.set()``, in the style of
label-studio-ml-backend's the_simplest_backend: ``fit`` returns nothing, it only writes state."""

from __future__ import annotations

from typing import Any

from wow_ai_hub.model import LabelStudioMLBase


class SimplestBackend(LabelStudioMLBase):
    """Answers what it learnt in this project (read when built, as models that load weights do)."""

    predicted = 0  # tasks predicted in this process, for tests that must see the model was asked

    def setup(self) -> None:
        self.learnt = self.get("my_data") or "untrained"

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        type(self).predicted += len(tasks)
        from_name, to_name, _ = self.get_first_tag_occurence("TextArea", "Text")
        region = {"from_name": from_name, "to_name": to_name, "type": "textarea"}
        return [{"result": [{**region, "value": {"text": [self.learnt]}}], "score": 0.5} for _ in tasks]

    def fit(self, event: str, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("annotations"):
            self.set("my_data", f"learnt from {len(data['annotations'])} annotation(s)")
