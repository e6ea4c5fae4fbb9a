"""A model that reads its text through the SDK's media helpers, as label-studio-ml-backend models do."""

from __future__ import annotations

from typing import Any

from wow_ai_hub import LabelStudioMLBase


class FileLengthModel(LabelStudioMLBase):
    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Any]:
        predictions = []
        for task in tasks:
            data = self.preload_task_data(task)
            path = self.get_local_path(task["data"]["doc"], task_id=task["id"])
            text = f"{data['doc'].strip()}|{path.rsplit('__', 1)[-1]}"
            region = {"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [text]}}
            predictions.append({"result": [region]})
        return predictions
