"""Models that answer fewer predictions than they were given tasks, as some of
label-studio-ml-backend's examples do."""

from __future__ import annotations

import re
from typing import Any

from label_studio_sdk.label_interface.objects import PredictionValue

from wow_ai_hub import LabelStudioMLBase, ModelResponse


class SubstringMatcher(LabelStudioMLBase):
    """In the style of interactive_substring_matching: marks every occurrence of the text the user
    selected, and skips (gives no prediction for) a task with no text."""

    asked: list[list[Any]] = []  # the task ids of every call, to see how the Hub asked

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> ModelResponse:
        type(self).asked.append([task.get("id") for task in tasks])
        from_name, to_name, value = self.label_interface.get_first_tag_occurence("Labels", "Text")
        selected = next(r for r in (context or {}).get("result", []) if r["from_name"] == from_name)
        keyword, labels = selected["value"]["text"], selected["value"]["labels"]
        predictions = []
        for task in tasks:
            text = task["data"].get(value)
            if not text:
                continue
            regions: list[dict[str, Any] | Any] = [
                {
                    "from_name": from_name,
                    "to_name": to_name,
                    "type": "labels",
                    "value": {"start": m.start(), "end": m.end(), "text": m.group(), "labels": labels},
                }
                for m in re.finditer(re.escape(keyword), text)
            ]
            predictions.append(PredictionValue(result=regions, score=1.0))
        return ModelResponse(predictions=predictions)


class TaskNamingModel(LabelStudioMLBase):
    """Answers only tasks with an even id, in reverse order, each prediction naming its task."""

    asked: list[list[Any]] = []

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        type(self).asked.append([task.get("id") for task in tasks])
        from_name, to_name, _ = self.get_first_tag_occurence("TextArea", "Text")
        return [
            {
                "task": task["id"],
                "result": [
                    {
                        "from_name": from_name,
                        "to_name": to_name,
                        "type": "textarea",
                        "value": {"text": [f"task {task['id']}"]},
                    }
                ],
            }
            for task in reversed(tasks)
            if task["id"] % 2 == 0
        ]


class BatchedTaskNamingModel(TaskNamingModel):
    """The same, asked two tasks at a time."""

    preferred_batch_size = 2
