"""Model answers that are valid JSON but hostile: numbers too large for a float, more regions than
anyone can label. Each costs only its own task (an empty prediction, counted in the model's errors),
and the rest of the batch is answered. Model servers are real HTTP servers on loopback."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from registry.models import ClassMapping, ModelClass, RegisteredModel
from tests.conftest import QuietHandler, register, serving

pytestmark = pytest.mark.django_db(transaction=True)

CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="boxes" toName="image"><Label value="Box"/></RectangleLabels>'
    '<EllipseLabels name="rings" toName="image"><Label value="Ring"/></EllipseLabels></View>'
)
HUGE = "1" + "0" * 400  # a 401-digit integer: valid JSON, too large for a float
BOX = '{"x": 1, "y": 1, "w": 5, "h": 5}'
# What the stand-in model server answers, by the width of the image it is sent.
ANSWERS = {
    10: f'{{"status": "succeeded", "results": [{{"name": "Box", "confidence": {HUGE}, "bounding_box": {BOX}}}]}}',
    11: f'{{"status": "succeeded", "results": [{{"name": "Box", "confidence": 0.9, "bounding_box": {{"x": {HUGE}, "y": 1, "w": 5, "h": 5}}}}]}}',
    12: '{"status": "succeeded", "results": [{"name": "Ring", "confidence": 0.9, "ellipse": {"center": {"x": 5, "y": 5}, "radius": {"x": 2, "y": 2}, "angle": 1e308}}]}',
    20: f'{{"status": "succeeded", "results": [{{"name": "Box", "confidence": 0.9, "bounding_box": {BOX}}}]}}',
    30: '{"status": "succeeded", "results": ['
    + ",".join([f'{{"name": "Box", "confidence": 0.9, "bounding_box": {BOX}}}'] * 200_000)
    + "]}",
    31: '{"status": "succeeded", "results": ['
    + ",".join([f'{{"name": "Box", "confidence": 0.9, "bounding_box": {BOX}}}'] * 5)
    + "]}",
    32: '{"status": "succeeded", "results": [], "padding": "' + "x" * 20_000 + '"}',
}


def image_of_width(width: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, 20), "white").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class HostileServer(QuietHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with Image.open(io.BytesIO(base64.b64decode(body["image"]["base64"]))) as image:
            answer = ANSWERS[image.width]
        self.reply(200, answer.encode(), "application/json")


@pytest.fixture
def hostile_server() -> Iterator[str]:
    with serving(HostileServer) as url:
        yield url


def predict(client: Client, slug: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"tasks": tasks, "project": "1.1700000000", "label_config": CONFIG}
    response = client.post(f"/ml/{slug}/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content[:500]
    return dict(response.json())


def test_numbers_too_large_for_a_float_cost_only_their_task(client: Client, hostile_server: str) -> None:
    model = RegisteredModel.objects.create(name="v7", slug="v7", kind="http", url=f"{hostile_server}/infer")
    ModelClass.objects.create(model=model, name="Box", type="bounding_box")
    ModelClass.objects.create(model=model, name="Ring", type="ellipse")
    tasks = [{"id": width, "data": {"image": image_of_width(width)}} for width in (10, 11, 12, 20)]
    results = predict(client, "v7", tasks)["results"]
    assert [len(p["result"]) for p in results] == [0, 0, 1, 1]
    assert 0 <= results[2]["result"][0]["value"]["rotation"] < 360  # an angle of 1e308 radians, turned
    model.refresh_from_db()
    # The huge confidence is off V7's contract (an error); the huge coordinate leaves no box (a
    # dropped region); the others are answered.
    assert model.errors_total == 1 and "confidence" in model.last_error
    assert model.dropped_regions_total == 1
    assert model.predictions_total == 4


def test_a_python_models_huge_scores_do_not_fail_the_batch(client: Client) -> None:
    register("huge", "tests.models.hostile.HugeScoreModel")
    tasks = [{"id": 1, "data": {"image": "x"}}, {"id": 2, "data": {"image": "y"}}]
    results = predict(client, "huge", tasks)["results"]
    assert [p["score"] for p in results] == [0.0, 0.5]


def test_more_regions_than_the_limit_cost_only_their_task(client: Client, hostile_server: str) -> None:
    """200,000 results for one task took a worker to about 1 GB; beyond the limit they are not drawn."""
    model = RegisteredModel.objects.create(name="v7", slug="v7", kind="http", url=f"{hostile_server}/infer")
    ModelClass.objects.create(model=model, name="Box", type="bounding_box")
    tasks = [{"id": width, "data": {"image": image_of_width(width)}} for width in (30, 20)]
    results = predict(client, "v7", tasks)["results"]
    assert [len(p["result"]) for p in results] == [0, 1]
    model.refresh_from_db()
    assert model.errors_total == 1 and "HUB_MAX_REGIONS_PER_TASK" in model.last_error


def v7(hostile_server: str, **limits: Any) -> RegisteredModel:
    model = RegisteredModel.objects.create(
        name="v7", slug="v7", kind="http", url=f"{hostile_server}/infer", **limits
    )
    ModelClass.objects.create(model=model, name="Box", type="bounding_box")
    return model


def test_a_models_own_region_limit_applies_to_its_answers(client: Client, hostile_server: str) -> None:
    model = v7(hostile_server, max_regions_per_task=3)
    tasks = [{"id": width, "data": {"image": image_of_width(width)}} for width in (31, 20)]
    results = predict(client, "v7", tasks)["results"]
    assert [len(p["result"]) for p in results] == [0, 1]  # 5 results are over 3; 1 is not
    model.refresh_from_db()
    assert model.errors_total == 1 and "5 results" in model.last_error
    assert "more than the 3 allowed" in model.last_error
    # Refused before drawing (drawing is what costs memory): only the other task's result was seen.
    assert ClassMapping.objects.get(model_class__name="Box").results_total == 1
    # Blank: the Hub's limit (2000) lets five through.
    RegisteredModel.objects.filter(pk=model.pk).update(max_regions_per_task=None, version=2)
    assert [len(p["result"]) for p in predict(client, "v7", tasks)["results"]] == [5, 1]


def test_a_python_models_answers_are_bounded_too(client: Client) -> None:
    register("many", "tests.models.hostile.ManyRegionsModel", max_regions_per_task=10)
    tasks = [{"id": i, "data": {"image": "x", "n": n}} for i, n in enumerate((11, 10, 0, 5000))]
    results = predict(client, "many", tasks)["results"]
    assert [len(p["result"]) for p in results] == [0, 10, 0, 0]
    model = RegisteredModel.objects.get(slug="many")
    assert model.errors_total == 2 and "more than the 10 allowed" in model.last_error
    assert model.predictions_total == 4


def test_a_models_own_answer_size_limit_applies_to_its_server(client: Client, hostile_server: str) -> None:
    model = v7(hostile_server, max_response_bytes=10_000)
    tasks = [{"id": width, "data": {"image": image_of_width(width)}} for width in (32, 20)]
    results = predict(client, "v7", tasks)["results"]
    assert [len(p["result"]) for p in results] == [0, 1]  # 20 kB is over 10 kB; the small answer is not
    model.refresh_from_db()
    assert model.errors_total == 1 and "10000" in model.last_error
    # Blank: the Hub's limit (20 MB) lets it through.
    RegisteredModel.objects.filter(pk=model.pk).update(max_response_bytes=None, version=2)
    assert [len(p["result"]) for p in predict(client, "v7", tasks)["results"]] == [0, 1]
    model.refresh_from_db()
    assert model.errors_total == 1
