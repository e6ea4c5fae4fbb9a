"""The per-worker hot-path cache: a warm /predict reads the database a fixed number of times, and an
admin's change reaches a running worker at its very next request."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registry.counters import counter_buffer
from registry.hot_path import STAMP_NAME
from registry.models import (
    ClassMapping,
    HubStamp,
    ModelClass,
    ModelProject,
    ModelState,
    Project,
    RegisteredModel,
)
from tests.conftest import CFG, ECHO_CFG, QuietHandler, register, serving
from tests.live import LiveHub

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE_CFG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="boxes" toName="image"><Label value="Car"/><Label value="Truck"/></RectangleLabels>'
    "</View>"
)
# A 1x1 PNG: the Hub measures it, the stand-in server does not look.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
DATA_URI = "data:image/png;base64," + base64.b64encode(PIXEL).decode()

# The one query of a warm /predict: the stamp (its counters are written later, in batches).
WARM_PREDICT_QUERIES = 1


class OneCarServer(QuietHandler):
    """A V7 model server that sees one car in every image."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = {
            "status": "succeeded",
            "results": [
                {
                    "name": "car",
                    "label": "car",
                    "confidence": 0.9,
                    "bounding_box": {"x": 0, "y": 0, "w": 1, "h": 1},
                }
            ],
        }
        self.reply(200, json.dumps(body).encode(), "application/json")


@pytest.fixture
def car_server() -> Iterator[str]:
    with serving(OneCarServer) as url:
        yield url


def predict(client: Client, slug: str, tasks: list[dict[str, Any]], config: str) -> dict[str, Any]:
    body = {"tasks": tasks, "project": "7.1700000000", "label_config": config}
    response = client.post(f"/ml/{slug}/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    answer: dict[str, Any] = response.json()
    return answer


def text_tasks(count: int, start: int) -> list[dict[str, Any]]:
    return [{"id": start + n, "data": {"text": f"task {start + n}"}} for n in range(count)]


def register_car_detector(url: str) -> RegisteredModel:
    model = RegisteredModel.objects.create(
        name="cars", slug="cars", kind="http", url=f"{url}/infer", prediction_cache=False
    )
    ModelClass.objects.create(model=model, name="car", type=ModelClass.Type.BOUNDING_BOX)
    return model


@pytest.fixture
def counters_batched(settings: Any) -> Iterator[None]:
    """The production way: counters add up in memory and are written later (here: when flushed)."""
    settings.HUB_COUNTER_FLUSH_SECONDS = 3600
    yield
    counter_buffer.flush()


@pytest.mark.parametrize("batch", [1, 50])
def test_a_warm_python_predict_makes_the_same_few_queries_whatever_the_batch(
    client: Client, django_assert_num_queries: Any, counters_batched: None, batch: int
) -> None:
    model = register("dummy", "examples.dummy.model.DummyModel", prediction_cache=False)
    for _ in range(2):  # cold: builds the model, links the project (a change: a new stamp), caches
        predict(client, "dummy", text_tasks(2, 0), CFG)

    with django_assert_num_queries(WARM_PREDICT_QUERIES):
        answer = predict(client, "dummy", text_tasks(batch, 100), CFG)
    assert len(answer["results"]) == batch

    counter_buffer.flush()
    model.refresh_from_db()
    assert model.predictions_total == 4 + batch
    assert ModelProject.objects.get(model=model).predictions_total == 4 + batch


@pytest.mark.parametrize(
    ("path", "own_queries", "version"),
    [
        ("tests.models.sdk_features.DeclaredVersionModel", 0, "declared-2.0.0"),  # a class attribute
        ("tests.models.repeater.Repeater", 1, "Repeater-v0.0.1"),  # set in setup(); predict reads one key
    ],
)
def test_a_model_naming_its_own_version_costs_no_query_when_warm(
    client: Client,
    django_assert_num_queries: Any,
    counters_batched: None,
    path: str,
    own_queries: int,
    version: str,
) -> None:
    register("own", path, prediction_cache=False)
    for _ in range(2):
        predict(client, "own", text_tasks(2, 0), CFG)
    with django_assert_num_queries(WARM_PREDICT_QUERIES + own_queries):
        answer = predict(client, "own", text_tasks(3, 100), CFG)
    assert {r["model_version"] for r in answer["results"]} == {version}


@pytest.mark.parametrize("batch", [1, 20])
def test_a_warm_external_predict_reads_its_mappings_from_the_cache(
    client: Client, car_server: str, django_assert_num_queries: Any, counters_batched: None, batch: int
) -> None:
    register_car_detector(car_server)
    tasks = [{"id": n, "data": {"image": DATA_URI}} for n in range(batch)]
    for _ in range(2):  # cold: links the project and auto-maps car -> Car (a new stamp), caches
        predict(client, "cars", tasks, IMAGE_CFG)

    with django_assert_num_queries(WARM_PREDICT_QUERIES):
        answer = predict(client, "cars", tasks, IMAGE_CFG)
    labels = {r["result"][0]["value"]["rectanglelabels"][0] for r in answer["results"]}
    assert labels == {"Car"}


def test_counting_traffic_keeps_the_stamp(client: Client) -> None:
    register("dummy", "examples.dummy.model.DummyModel")
    predict(client, "dummy", text_tasks(1, 0), CFG)
    stamp = HubStamp.objects.get(name=STAMP_NAME).token

    predict(client, "dummy", text_tasks(3, 10), CFG)

    assert RegisteredModel.objects.get(slug="dummy").predictions_total == 4
    assert HubStamp.objects.get(name=STAMP_NAME).token == stamp


def live_predict(hub: LiveHub, slug: str, tasks: list[dict[str, Any]], config: str) -> dict[str, Any]:
    body = {"tasks": tasks, "project": "7.1700000000", "label_config": config}
    response = requests.post(f"{hub.url}/ml/{slug}/predict", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def warm_every_worker(hub: LiveHub, slug: str, tasks: list[dict[str, Any]], config: str) -> str:
    """Enough requests that both gunicorn workers have cached the model; the version they report."""
    versions = {live_predict(hub, slug, tasks, config)["results"][0]["model_version"] for _ in range(8)}
    assert len(versions) == 1
    return str(versions.pop())


def test_a_new_model_version_reaches_every_running_worker_at_once(live_hub: LiveHub) -> None:
    model = register("echo", "tests.models.protocol.EchoModel", prediction_cache=False)
    assert warm_every_worker(live_hub, "echo", text_tasks(1, 0), ECHO_CFG) == "echo@1"

    model.version = 2
    model.save()

    for _ in range(8):
        answer = live_predict(live_hub, "echo", text_tasks(1, 0), ECHO_CFG)
        assert answer["results"][0]["model_version"] == "echo@2"


def test_a_remapped_class_reaches_every_running_worker_at_once(live_hub: LiveHub, car_server: str) -> None:
    register_car_detector(car_server)
    tasks = [{"id": 1, "data": {"image": DATA_URI}}]
    warm_every_worker(live_hub, "cars", tasks, IMAGE_CFG)
    first = live_predict(live_hub, "cars", tasks, IMAGE_CFG)
    assert first["results"][0]["result"][0]["value"]["rectanglelabels"] == ["Car"]

    mapping = ClassMapping.objects.get(model_class__name="car")
    mapping.label = "Truck"
    mapping.save()

    for _ in range(8):
        answer = live_predict(live_hub, "cars", tasks, IMAGE_CFG)
        assert answer["results"][0]["result"][0]["value"]["rectanglelabels"] == ["Truck"]


def test_a_setup_that_brings_nothing_new_only_reads(client: Client, settings: Any) -> None:
    """Label Studio calls /setup on every project page; a write would take SQLite's one write lock."""
    settings.HUB_COUNTER_FLUSH_SECONDS = 3600  # traffic counts are batched off the request, as in production
    register("dummy", "examples.dummy.model.DummyModel")
    body = {"project": "7.1700000000", "schema": CFG, "hostname": "http://ls", "access_token": "t0ken"}

    def setup(**changes: str) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                "/ml/dummy/setup", json.dumps({**body, **changes}), content_type="application/json"
            )
        assert response.status_code == 200
        return [q["sql"].split()[0].upper() for q in queries.captured_queries]

    setup()  # saves the project: a new stamp
    setup()  # reads what the new stamp emptied
    assert setup() == ["SELECT"]  # the stamp; the project and its extra params come from the cache
    assert "UPDATE" in setup(schema=ECHO_CFG)  # a new config is saved
    assert Project.objects.get().label_config == ECHO_CFG
    assert "UPDATE" in setup(schema=ECHO_CFG, access_token="new-t0ken")  # and so is a new token
    assert ModelProject.objects.get(model__slug="dummy").access_token == "new-t0ken"


def test_extra_params_from_setup_are_kept_whichever_worker_saw_them_last(client: Client) -> None:
    """Each worker caches the stored extra params; a change is stamped, so no worker keeps a stale one."""
    register("dummy", "examples.dummy.model.DummyModel")
    body = {"project": "7.1700000000", "schema": CFG, "hostname": "http://ls"}

    def setup(extra_params: Any) -> None:
        response = client.post(
            "/ml/dummy/setup",
            json.dumps({**body, "extra_params": extra_params}),
            content_type="application/json",
        )
        assert response.status_code == 200

    def stored() -> list[str]:
        return list(ModelState.objects.filter(key="extra_params").values_list("value", flat=True))

    setup({"a": 1})
    assert stored() == ['{"a": 1}']
    stamp = HubStamp.objects.get(name=STAMP_NAME).token
    # New params are saved and stamped: every worker's cached {"a": 1} goes, here too, or the next
    # {"a": 1} would look unchanged and the stored {"b": 2} would stay.
    setup({"b": 2})
    assert stored() == ['{"b": 2}'] and HubStamp.objects.get(name=STAMP_NAME).token != stamp
    setup({"a": 1})
    assert stored() == ['{"a": 1}']
    setup(None)
    assert stored() == []
