"""Small deterministic models that the protocol tests register by import path."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from wow_ai_hub import WOWAIHUB


class EchoModel(WOWAIHUB):
    """Writes each task's id into the config's TextArea, so tests can see order and routing."""

    constructed = 0

    def setup(self) -> None:
        type(self).constructed += 1

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        area = next((n for n, t in self.parsed_label_config.items() if t["type"] == "TextArea"), None)
        if area is None:
            return []
        to_name = self.parsed_label_config[area]["to_name"][0]
        return [
            {
                "result": [
                    {
                        "from_name": area,
                        "to_name": to_name,
                        "type": "textarea",
                        "value": {"text": [str(task.get("id"))]},
                    }
                ],
                "score": 0.25,
            }
            for task in tasks
        ]


class TwoOpinionsModel(WOWAIHUB):
    """Two predictions per task (one per choice), to exercise list entries and interactive calls."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Any]:
        from_name, to_name, _ = self.get_first_tag_occurence("Choices", "Text")
        labels = self.label_interface.get_tag(from_name).labels
        suggestions = [
            r["value"].get("text") for r in (context or {}).get("result", []) if isinstance(r, dict)
        ]
        return [
            [
                {
                    "result": [
                        {
                            "from_name": from_name,
                            "to_name": to_name,
                            "type": "choices",
                            "value": {"choices": [label]},
                        }
                    ],
                    "score": score,
                    "model_version": f"opinion-{i}",
                    "suggested_from": suggestions,
                }
                for i, (label, score) in enumerate(zip(labels, (0.8, 0.2), strict=False))
            ]
            for _ in tasks
        ]


class MixedRegionsModel(WOWAIHUB):
    """Returns regions of which only some fit the config, to exercise validation."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        good = {
            "id": "a",
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["Positive"]},
            "score": 0.9,
        }
        regions = [
            good,
            {**good, "id": "b", "from_name": "missing"},
            {**good, "id": "c", "to_name": "elsewhere"},
            {**good, "id": "d", "type": "labels"},
            {**good, "id": "e", "value": {"choices": ["Neutral"]}},
            {**good, "id": "f", "value": "not an object"},
            "not a region",
            {"type": "relation", "from_id": "a", "to_id": "b", "direction": "right"},
        ]
        return [{"result": regions} for _ in tasks]


class RaisingModel(WOWAIHUB):
    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        return [{"result": [], "score": task["data"]["no_such_key"]} for task in tasks]


class WrongCountModel(WOWAIHUB):
    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        return [{"result": []}] * (len(tasks) + 1)


class BrokenConstructorModel(WOWAIHUB):
    def setup(self) -> None:
        raise RuntimeError("weights file missing")


class SlowConstructorModel(WOWAIHUB):
    """Takes 10 s to build and leaves a mark, so tests can prove /health and /setup never build it."""

    def setup(self) -> None:
        marker = os.environ.get("HUB_TEST_CONSTRUCTION_MARKER")
        if marker:
            Path(marker).write_text("built")
        time.sleep(10)


class ImageModel(WOWAIHUB):
    """A rectangle and a brush mask in Label Studio's image formats."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        import numpy as np
        from label_studio_sdk.converter.brush import mask2rle

        width, height = 40, 30
        mask = np.zeros((height, width), dtype=np.uint8)
        mask[5:15, 10:30] = 255
        rle = mask2rle(mask)
        regions = [
            {
                "from_name": "box",
                "to_name": "image",
                "type": "rectanglelabels",
                "original_width": width,
                "original_height": height,
                "image_rotation": 0,
                "value": {
                    "x": 25.0,
                    "y": 10.0,
                    "width": 50.0,
                    "height": 40.0,
                    "rotation": 0,
                    "rectanglelabels": ["Car"],
                },
                "score": 0.75,
            },
            {
                "from_name": "mask",
                "to_name": "image",
                "type": "brushlabels",
                "original_width": width,
                "original_height": height,
                "image_rotation": 0,
                "value": {"format": "rle", "rle": [int(v) for v in rle], "brushlabels": ["Car"]},
                "score": 0.25,
            },
        ]
        return [{"result": regions} for _ in tasks]


class StatefulModel(WOWAIHUB):
    """Counts its calls in the SDK state and reports extra_params, to check both are per project."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        calls = int(self.get("calls") or 0) + 1
        self.set("calls", str(calls))
        note = f"calls={calls} extra={sorted(self.extra_params.items())} login={kwargs.get('login')}"
        return [
            {
                "result": [
                    {"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [note]}}
                ]
            }
            for _ in tasks
        ]


class SlowTrainer(WOWAIHUB):
    """Trains for about 20 s in small steps, reporting progress, so tests can kill or cancel it."""

    def fit(self, event: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        for step in range(80):
            self.report_progress(step / 80, f"step {step}")
            time.sleep(0.25)
        return {"steps": 80}


class BatchRecordingModel(EchoModel):
    """An echo that records the task ids of every batch it is given, and prefers batches of three."""

    preferred_batch_size = 3
    batches: list[list[Any]] = []

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        type(self).batches.append([task.get("id") for task in tasks])
        return super().predict(tasks, context=context, **kwargs)


class SlowPredictModel(EchoModel):
    """An echo that takes as many seconds as ``params.seconds`` says, to be seen in flight; with
    ``params.until`` (a file path) it answers as soon as that file exists, ``seconds`` at the latest."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + float(kwargs.get("seconds", 0))
        release = Path(kwargs["until"]) if kwargs.get("until") else None
        while time.monotonic() < deadline and not (release and release.exists()):
            time.sleep(0.05)
        return super().predict(tasks, context=context, **kwargs)
