"""Models for the pre-annotation tests."""

from __future__ import annotations

from typing import Any

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
