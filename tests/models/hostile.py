"""Python models whose answers are valid but hostile, for tests/inference/test_hostile_answers.py."""

from __future__ import annotations

from typing import Any

from inference.sdk import WOWAIHUB


class HugeScoreModel(WOWAIHUB):
    """Task 1 gets a score of 401 digits (valid JSON, too large for a float); the others 0.5."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        return [{"result": [], "score": 10**400 if task["id"] == 1 else 0.5} for task in tasks]


class ManyRegionsModel(WOWAIHUB):
    """As many regions for each task as its data's ``n`` says."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        region = {"from_name": "boxes", "to_name": "image", "type": "rectanglelabels"}
        box = {"x": 1, "y": 1, "width": 5, "height": 5, "rectanglelabels": ["Box"]}
        return [{"result": [{**region, "value": box}] * task["data"]["n"]} for task in tasks]
