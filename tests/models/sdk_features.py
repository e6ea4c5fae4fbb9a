"""Models written the way label-studio-ml-backend's are, each using one part of the base class's API."""

from __future__ import annotations

import json
from typing import Any

from wow_ai_hub.model import LabelStudioMLBase


def _note(text: str) -> dict[str, Any]:
    region = {"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [text]}}
    return {"result": [region]}


class DeclaredVersionModel(LabelStudioMLBase):
    """Names its version as a class attribute."""

    model_version = "declared-2.0.0"

    def predict(self, tasks: list[dict[str, Any]], context: Any = None, **kwargs: Any) -> list[Any]:
        return [_note("v") for _ in tasks]


class TaskKeeperModel(LabelStudioMLBase):
    """Keeps every task Label Studio tells it about (TASKS_CREATED), and bumps its version on training."""

    TRAIN_EVENTS = (*LabelStudioMLBase.TRAIN_EVENTS, "TASKS_CREATED")

    def predict(self, tasks: list[dict[str, Any]], context: Any = None, **kwargs: Any) -> list[Any]:
        return [_note(self.get("seen_tasks") or "none") for _ in tasks]

    def fit(self, event: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        if event == "TASKS_CREATED":
            seen = json.loads(self.get("seen_tasks") or "[]")
            seen += [task["id"] for task in data.get("tasks", [])]
            self.set("seen_tasks", json.dumps(seen))
            return None
        version = self.bump_model_version()
        return {"event": event, "annotations": len(data.get("annotations", [])), "version": version}


class LabelStudioUserModel(LabelStudioMLBase):
    """Tells what it knows of its project's Label Studio, through the base class's accessors."""

    def predict(self, tasks: list[dict[str, Any]], context: Any = None, **kwargs: Any) -> list[Any]:
        client = self.get_label_studio_client()
        text = f"{self.get_label_studio_access_token()}|{client._client_wrapper.get_base_url()}"
        return [_note(text) for _ in tasks]


class FailingFitModel(LabelStudioMLBase):
    def predict(self, tasks: list[dict[str, Any]], context: Any = None, **kwargs: Any) -> list[Any]:
        return [_note("x") for _ in tasks]

    def fit(self, event: str, data: dict[str, Any], **kwargs: Any) -> Any:
        raise RuntimeError("the GPU caught fire")
