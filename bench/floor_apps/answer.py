"""The answer every floor app gives: the Hub's dummy model's prediction for each task."""

from __future__ import annotations

from typing import Any

REGION = {
    "from_name": "sentiment",
    "to_name": "text",
    "type": "choices",
    "value": {"choices": ["Positive"]},
    "score": 0.5,
}


def answer(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "results": [{"result": [REGION], "score": 0.5, "model_version": "dummy@1"} for _ in body["tasks"]]
    }
