"""The prediction cache and batch splitting: the same task asked again is answered without the model,
anything an answer depends on changes the key, and a model's preferred batch size is respected."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from registry.models import ClassMapping, RegisteredModel
from tests.conftest import ECHO_CFG, admin_model_form, register, serving
from tests.models.protocol import BatchRecordingModel
from tests.registry.test_hot_path import DATA_URI, IMAGE_CFG, OneCarServer, register_car_detector

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_model_calls() -> None:
    BatchRecordingModel.batches = []


def predict_with(
    slug: str, tasks: list[dict[str, Any]], config: str, project: str = "5.1700000000", **params: Any
) -> list[Any]:
    body = {"tasks": tasks, "project": project, "label_config": config, "params": params}
    response = Client().post(f"/ml/{slug}/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    results: list[Any] = response.json()["results"]
    return results


def predict(
    tasks: list[dict[str, Any]], config: str = ECHO_CFG, project: str = "5.1700000000", **params: Any
) -> list[Any]:
    return predict_with("recorder", tasks, config, project, **params)


def tasks(*ids: int) -> list[dict[str, Any]]:
    return [{"id": n, "data": {"text": f"text {n}"}} for n in ids]


def asked() -> list[Any]:
    return [task_id for batch in BatchRecordingModel.batches for task_id in batch]


def test_a_batch_is_split_at_the_models_preferred_size_and_answered_in_order() -> None:
    register("recorder", "tests.models.protocol.BatchRecordingModel", prediction_cache=False)

    results = predict(tasks(*range(1, 9)))

    assert BatchRecordingModel.batches == [[1, 2, 3], [4, 5, 6], [7, 8]]
    assert [r["result"][0]["value"]["text"] for r in results] == [[str(n)] for n in range(1, 9)]


def test_a_task_asked_again_is_answered_from_the_cache() -> None:
    register("recorder", "tests.models.protocol.BatchRecordingModel")
    first = predict(tasks(1, 2))

    again = predict(tasks(2, 1, 3))

    assert asked() == [1, 2, 3]  # only task 3 reached the model the second time
    assert again[:2] == [first[1], first[0]]
    assert again[2]["result"][0]["value"]["text"] == ["3"]


def test_new_data_a_new_config_or_a_new_version_asks_the_model_again() -> None:
    model = register("recorder", "tests.models.protocol.BatchRecordingModel")
    predict(tasks(1))

    predict([{"id": 1, "data": {"text": "edited"}}])
    predict(tasks(1), config=ECHO_CFG.replace('name="note"', 'name="remark"'))
    model.version = 2
    model.save()
    last = predict(tasks(1))

    assert asked() == [1, 1, 1, 1]
    assert last[0]["model_version"] == "recorder@2"


def test_the_same_task_in_another_project_asks_the_model_again() -> None:
    # Equal task data may name different things in two projects (a relative media path is read from
    # each project's own Label Studio): one project's answer never reaches another.
    register("recorder", "tests.models.protocol.BatchRecordingModel")
    predict(tasks(1))
    predict(tasks(1), project="6.1700000000")
    predict(tasks(1))
    predict(tasks(1), project="6.1700000000")
    assert asked() == [1, 1]


def test_a_model_registered_again_under_its_slug_or_changed_in_place_asks_again() -> None:
    # Both start or stay at version 1: the key holds what runs, not only the version string.
    register("recorder", "tests.models.protocol.BatchRecordingModel")
    predict(tasks(1))
    RegisteredModel.objects.filter(slug="recorder").delete()
    register("recorder", "tests.models.protocol.BatchRecordingModel")
    predict(tasks(1))
    RegisteredModel.objects.filter(slug="recorder").update(params={"note": "a new setting"})
    predict(tasks(1))
    assert asked() == [1, 1, 1]


def test_a_model_with_the_cache_switched_off_is_always_asked() -> None:
    register("recorder", "tests.models.protocol.BatchRecordingModel", prediction_cache=False)
    predict(tasks(1))
    predict(tasks(1))
    assert asked() == [1, 1]


def test_interactive_calls_are_always_computed() -> None:
    register("recorder", "tests.models.protocol.BatchRecordingModel")
    context = {"result": [{"type": "keypointlabels", "value": {"x": 1, "y": 2}}]}
    predict(tasks(1), context=context)
    predict(tasks(1), context=context)
    assert asked() == [1, 1]


def test_the_switch_is_in_the_admin(admin_client: Client) -> None:
    # A model registered through the admin caches unless told not to: the box comes ticked.
    page = admin_client.get("/admin/registry/registeredmodel/add/").content.decode()
    assert re.search(r'<input type="checkbox" name="prediction_cache"[^>]*checked', page)
    form = admin_model_form(
        name="Recorder", slug="recorder", import_path="tests.models.protocol.BatchRecordingModel"
    )
    assert (
        admin_client.post(
            "/admin/registry/registeredmodel/add/", {**form, "prediction_cache": "on"}
        ).status_code
        == 302
    )
    predict(tasks(1))
    predict(tasks(1))
    assert asked() == [1]
    # Unticked in the admin (a browser sends no field for it): every call asks the model again.
    model = RegisteredModel.objects.get(slug="recorder")
    assert admin_client.post(f"/admin/registry/registeredmodel/{model.pk}/change/", form).status_code == 302
    predict(tasks(1))
    predict(tasks(1))
    assert asked() == [1, 1, 1]


class FlakyCarServer(OneCarServer):
    """Fails its first call, then sees one car in every image; counts the calls."""

    calls = 0

    def do_POST(self) -> None:
        type(self).calls += 1
        if type(self).calls == 1:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.reply(500)
            return
        super().do_POST()


def test_a_failed_task_is_not_cached_and_a_new_mapping_asks_again() -> None:
    FlakyCarServer.calls = 0
    with serving(FlakyCarServer) as url:
        model = register_car_detector(url)
        model.prediction_cache = True
        model.save()
        image_tasks = [{"id": 1, "data": {"image": DATA_URI}}]

        def labels() -> list[Any]:
            answer = predict_with(model.slug, image_tasks, IMAGE_CFG)
            return [region["value"]["rectanglelabels"] for region in answer[0]["result"]]

        assert labels() == []  # the server failed: an empty prediction, not cached
        assert labels() == [["Car"]]
        assert labels() == [["Car"]]  # from the cache
        assert FlakyCarServer.calls == 2

        ClassMapping.objects.filter(model_class__name="car").update(label="Truck")
        assert labels() == [["Truck"]]
        assert FlakyCarServer.calls == 3
        # The model's threshold above the car's confidence (0.9): the box is dropped, not served cached.
        model.threshold = 0.95
        model.save()
        assert labels() == []
        assert FlakyCarServer.calls == 4
