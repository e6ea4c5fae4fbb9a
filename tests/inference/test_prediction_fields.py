"""Every field Label Studio stores on a prediction, and on a region the config allows, reaches it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.conftest import ECHO_CFG, register
from wow_ai_hub import WOWAIHUB

pytestmark = pytest.mark.django_db

REGIONS = [
    {
        "id": "parent1",
        "from_name": "note",
        "to_name": "text",
        "type": "textarea",
        "value": {"text": ["whole"]},
        "score": 0.75,
        "readonly": True,
        "origin": "prediction",
        "meta": {"text": ["bbox-0"]},
    },
    {
        "id": "child1",
        "parentID": "parent1",
        "from_name": "note",
        "to_name": "text",
        "type": "textarea",
        "value": {"text": ["part"]},
        "hidden": False,
    },
]


class FullFieldsModel(WOWAIHUB):
    """A prediction with every field Label Studio's Prediction model has, and two with bad ones."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        full = {
            "result": REGIONS,
            "score": 0.5,
            "cluster": 3,
            "neighbors": [{"task": 12, "distance": 0.1}],
            "mislabeling": 0.25,
        }
        bad = {"result": [], "cluster": "three", "mislabeling": float("nan"), "neighbors": {1, 2}}
        return [full, bad, {"result": [], "cluster": True, "mislabeling": 10**400}][: len(tasks)]


def predict() -> list[dict[str, Any]]:
    tasks = [{"id": n, "data": {"text": f"text {n}"}} for n in (1, 2, 3)]
    body = {"tasks": tasks, "project": "4.1700000000", "label_config": ECHO_CFG}
    response = Client().post("/ml/full/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def test_prediction_and_region_fields_reach_label_studio_as_given_computed_and_cached() -> None:
    register("full", "tests.inference.test_prediction_fields.FullFieldsModel")

    for results in (predict(), predict()):  # computed, then from the cache
        assert results[0] == {
            "result": REGIONS,
            "score": 0.5,
            "model_version": "full@1",
            "cluster": 3,
            "neighbors": [{"task": 12, "distance": 0.1}],
            "mislabeling": 0.25,
        }
        # Values Label Studio could not store are left out, not sent.
        assert results[1] == results[2] == {"result": [], "score": 0.0, "model_version": "full@1"}
