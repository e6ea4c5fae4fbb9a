"""Models for the pre-annotation tests."""

from __future__ import annotations

import os
import threading
from typing import Any, ClassVar

from inference.sdk import WOWAIHUB


class FussyModel(WOWAIHUB):
    """Labels every text Positive, but fails a whole batch that holds a text with "poison" in it."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        if any("poison" in str(task["data"].get("text")) for task in tasks):
            raise ValueError("cannot read poison")
        value = {"choices": ["Positive"]}
        region = {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": value}
        return [{"result": [region], "score": 0.5} for _ in tasks]


class PriorityRecorder(WOWAIHUB):
    """Labels every text Positive and records the nice value of the thread each batch ran on."""

    nice_seen: ClassVar[list[int]] = []

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        PriorityRecorder.nice_seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        value = {"choices": ["Positive"]}
        region = {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": value}
        return [{"result": [region], "score": 0.5} for _ in tasks]
