"""Module for module with label_studio_ml: every name a model file or a backend's test imports from
upstream's SDK is offered by ``wow_ai_hub`` under the same module, so a migration is one rename."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from wow_ai_hub.model import WOWAIHUB, LabelStudioMLBase, predict_fn, update_fn

# label_studio_ml's public names that users import (its example backends, their tests, its README),
# by module. Server internals (the Flask app, its SQLite cache, the CLI) have no counterpart.
UPSTREAM_NAMES = {
    "wow_ai_hub": ["__version__", "package_name"],
    "wow_ai_hub.model": [
        "LabelStudioMLBase",
        "ModelResponse",
        "LabelStudio",
        "predict_fn",
        "update_fn",
    ],
    "wow_ai_hub.response": ["ModelResponse", "SingleTaskPredictions", "PredictionValue"],
    "wow_ai_hub.utils": [
        "DATA_UNDEFINED_NAME",
        "get_single_tag_keys",
        "get_first_tag_keys",
        "is_skipped",
        "get_choice",
        "get_image_size",
        "InMemoryLRUDictCache",
        "match_labels",
        "is_valid_url",
        "is_preload_needed",
        "compare_nested_structures",
    ],
    "wow_ai_hub.api": ["init_app"],
}
BASE_CLASS_API = [
    "INITIAL_MODEL_VERSION",
    "TRAIN_EVENTS",
    "setup",
    "use_label_config",
    "set_extra_params",
    "extra_params",
    "get",
    "set",
    "has",
    "label_config",
    "parsed_label_config",
    "label_interface",
    "model_version",
    "bump_model_version",
    "predict",
    "process_event",
    "fit",
    "_get_label_studio_client",
    "get_label_studio_access_token",
    "get_local_path",
    "preload_task_data",
    "get_first_tag_occurence",
    "build_label_map",
]


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in UPSTREAM_NAMES.items() for n in names])
def test_every_name_users_import_from_label_studio_ml_is_there(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), f"from {module} import {name}"


def test_the_base_class_has_upstreams_api() -> None:
    assert [name for name in BASE_CLASS_API if not hasattr(LabelStudioMLBase, name)] == []


class Functional(LabelStudioMLBase):
    """A model class written with the functional API: no predict or fit of its own."""


@predict_fn
def predict_everything(tasks: list[dict[str, Any]], context: Any, helper: Any, **kwargs: Any) -> list[Any]:
    return [{"result": [], "score": len(task["data"]["text"]), "by": type(helper).__name__} for task in tasks]


@update_fn
def update_everything(event: str, data: dict[str, Any], helper: Any, **kwargs: Any) -> dict[str, Any]:
    helper.set("learnt", json.dumps(data))
    return {"event": event}


def test_predict_fn_and_update_fn_serve_the_classes_of_their_own_module_only() -> None:
    model = Functional()
    assert model.predict([{"id": 1, "data": {"text": "abc"}}]) == [
        {"result": [], "score": 3, "by": "Functional"}
    ]
    assert model.process_event("ANNOTATION_CREATED", {"n": 1}, 7, {}) == {"event": "ANNOTATION_CREATED"}
    assert model.get("learnt") == '{"n": 1}'
    # A class from another module (another model file in the same Hub) never gets them.
    assert WOWAIHUB().predict([{"id": 1, "data": {"text": "abc"}}]) == []
    assert WOWAIHUB().fit("ANNOTATION_CREATED", {}) is None
