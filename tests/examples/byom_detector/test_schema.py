"""The V7 response schema the server's answers are checked against, checked itself."""

from __future__ import annotations

from typing import Any

import pytest

from tests.examples.byom_detector.v7_schema import VALIDATOR, assert_v7_valid


def test_schema_accepts_the_reference_example() -> None:
    assert_v7_valid(
        {
            "status": "succeeded",
            "results": [
                {
                    "name": "car",
                    "label": "car",
                    "confidence": 0.91,
                    "bounding_box": {"x": 550, "y": 120, "w": 300, "h": 400},
                },
                {
                    "name": "road",
                    "label": "road",
                    "confidence": 0.77,
                    "polygon": {"path": [{"x": 10, "y": 700}]},
                },
                {"name": "night", "label": "night", "confidence": 0.66, "tag": {}},
                {
                    "name": "plate",
                    "label": "plate",
                    "confidence": 0.88,
                    "bounding_box": {"x": 600, "y": 460, "w": 90, "h": 24},
                    "text": {"text": "AB12 CDE"},
                },
            ],
        }
    )
    assert_v7_valid({"status": "failed", "results": []})


@pytest.mark.parametrize(
    "body",
    [
        {"results": []},
        {"status": "ok", "results": []},
        {"status": "succeeded", "results": [{"name": "a", "label": "a", "confidence": 95, "tag": {}}]},
        {"status": "succeeded", "results": [{"name": "a", "label": "a", "confidence": 0.5}]},
        {"status": "succeeded", "results": [{"name": "a", "confidence": 0.5, "tag": {}}]},
        {
            "status": "succeeded",
            "results": [{"name": "a", "label": "a", "confidence": 0.5, "text": {"text": "x"}}],
        },
        {
            "status": "succeeded",
            "results": [
                {
                    "name": "a",
                    "label": "a",
                    "confidence": 0.5,
                    "tag": {},
                    "bounding_box": {"x": 0, "y": 0, "w": 1, "h": 1},
                }
            ],
        },
        {
            "status": "succeeded",
            "results": [
                {
                    "name": "a",
                    "label": "a",
                    "confidence": 0.5,
                    "bounding_box": {"x": 0, "y": 0, "w": -1, "h": 1},
                }
            ],
        },
    ],
    ids=[
        "no-status",
        "bad-status",
        "confidence-95",
        "no-geometry",
        "no-label",
        "text-only",
        "two-geometries",
        "neg-w",
    ],
)
def test_schema_rejects_what_v7_rejects(body: dict[str, Any]) -> None:
    assert list(VALIDATOR.iter_errors(body))
