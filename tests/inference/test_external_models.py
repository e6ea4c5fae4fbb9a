"""External models end to end: the example V7 detector on loopback, registered through the admin,
its media served by a stand-in Label Studio that requires the project's token."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.test import Client
from PIL import Image, ImageDraw

from registry.models import ClassMapping, ModelClass, ModelProject, RegisteredModel
from tests.conftest import QuietHandler, admin_model_form, serving
from tests.processes import REPO_ROOT, free_port

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "ls-legacy-token-123"
CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="scene" toName="image"><Choice value="Dark"/><Choice value="Bright"/><Choice value="Medium"/></Choices>
  <RectangleLabels name="boxes" toName="image">
    <Label value="Box" predicted_values="rectangle, square"/>
    <Label value="Ball" predicted_values="circle"/>
  </RectangleLabels>
</View>"""


def draw_png(width: int, height: int, shapes: list[tuple[str, tuple[int, int, int, int]]]) -> bytes:
    picture = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(picture)
    for kind, box in shapes:
        (pen.rectangle if kind == "rectangle" else pen.ellipse)(box, fill=(200, 30, 30))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


IMAGES = {
    "/data/upload/1/rect.png": draw_png(400, 200, [("rectangle", (40, 20, 139, 99))]),
    "/data/upload/1/two.png": draw_png(
        400, 300, [("rectangle", (200, 150, 299, 249)), ("ellipse", (20, 20, 99, 99))]
    ),
}


class StandInLabelStudio(QuietHandler):
    """Serves uploads only to requests carrying the project's token, as Label Studio does."""

    seen_auth: list[str] = []

    def do_GET(self) -> None:
        StandInLabelStudio.seen_auth.append(self.headers.get("Authorization", ""))
        if self.headers.get("Authorization") != f"Token {TOKEN}":
            self.reply(401)
            return
        content = IMAGES.get(self.path)
        self.reply(200 if content else 404, content or b"", "image/png")


@pytest.fixture(scope="module")
def label_studio() -> Iterator[str]:
    with serving(StandInLabelStudio) as url:
        yield url


@pytest.fixture(scope="module")
def detector() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.byom_detector.server", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/classes", timeout=1).raise_for_status()
            break
        except requests.RequestException:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("the example detector did not start")
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def post(client: Client, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post(path, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def register_through_admin(admin_client: Client, detector: str, **overrides: str) -> RegisteredModel:
    form = admin_model_form(
        name="Detector",
        slug="byom-detector",
        kind="http",
        url=f"{detector}/infer",
        timeout_seconds="10",
        max_concurrency="4",
    )
    response = admin_client.post("/admin/registry/registeredmodel/add/", {**form, **overrides})
    assert response.status_code == 302, response.content.decode()[:3000]
    model = RegisteredModel.objects.get(slug="byom-detector")
    response = admin_client.post(
        "/admin/registry/registeredmodel/",
        {"action": "fetch_classes", "_selected_action": [model.pk]},
        follow=True,
    )
    shown = " | ".join(str(m) for m in response.context["messages"])
    assert "byom-detector: 8 classes (8 new, 0 updated)" in shown, shown
    return model


@pytest.fixture
def detector_model(admin_client: Client, detector: str) -> RegisteredModel:
    return register_through_admin(admin_client, detector)


def setup_project(client: Client, label_studio: str) -> None:
    body = {"project": "1.1700000000", "schema": CONFIG, "hostname": label_studio, "access_token": TOKEN}
    assert post(client, "/ml/byom-detector/setup", body) == (200, {"model_version": "byom-detector@1"})


def test_fetched_classes_are_auto_mapped_when_the_project_sets_up(
    client: Client, detector_model: RegisteredModel, label_studio: str
) -> None:
    assert dict(ModelClass.objects.values_list("name", "type"))["triangle"] == "polygon"
    setup_project(client, label_studio)
    mappings = {
        m.model_class.name: (m.from_name, m.label) for m in ClassMapping.objects.select_related("model_class")
    }
    assert mappings == {
        "rectangle": ("boxes", "Box"),
        "square": ("boxes", "Box"),
        "circle": ("boxes", "Ball"),
        "dark": ("scene", "Dark"),
        "bright": ("scene", "Bright"),
        "medium": ("scene", "Medium"),
        "face": ("", ""),
        "triangle": ("", ""),
    }


def test_predict_fetches_media_with_the_token_and_returns_percent_rectangles_with_mapped_labels(
    client: Client, detector_model: RegisteredModel, label_studio: str
) -> None:
    setup_project(client, label_studio)
    StandInLabelStudio.seen_auth.clear()
    tasks = [
        {"id": 1, "data": {"image": "/data/upload/1/rect.png"}},
        {"id": 2, "data": {"image": "/data/upload/1/two.png"}},
    ]
    status, body = post(
        client,
        "/ml/byom-detector/predict",
        {"tasks": tasks, "project": "1.1700000000", "label_config": CONFIG},
    )
    assert status == 200
    assert StandInLabelStudio.seen_auth == [f"Token {TOKEN}"] * 2
    first, second = body["results"]
    boxes = [r for r in first["result"] if r["type"] == "rectanglelabels"]
    assert len(boxes) == 1
    box = boxes[0]
    assert box["value"]["rectanglelabels"] == ["Box"]
    assert box["value"]["x"] == pytest.approx(10.0, abs=1.0)  # 40 px of 400
    assert box["value"]["y"] == pytest.approx(10.0, abs=1.5)  # 20 px of 200
    assert box["value"]["width"] == pytest.approx(25.0, abs=1.0)
    assert box["value"]["height"] == pytest.approx(40.0, abs=1.5)
    assert (box["original_width"], box["original_height"]) == (400, 200)
    assert {tuple(r["value"]["choices"]) for r in first["result"] if r["type"] == "choices"} == {("Bright",)}
    labels = sorted(
        r["value"]["rectanglelabels"][0] for r in second["result"] if r["type"] == "rectanglelabels"
    )
    assert labels == ["Ball", "Box"]
    assert 0 < first["score"] <= 1 and first["model_version"] == "byom-detector@1"


def test_a_task_whose_media_fails_gets_an_empty_prediction_and_the_others_still_predict(
    client: Client, detector_model: RegisteredModel, label_studio: str
) -> None:
    setup_project(client, label_studio)
    tasks = [
        {"id": 1, "data": {"image": "/data/upload/1/missing.png"}},
        {"id": 2, "data": {"image": "/data/upload/1/rect.png"}},
        {"id": 3, "data": {}},
    ]
    status, body = post(
        client,
        "/ml/byom-detector/predict",
        {"tasks": tasks, "project": "1.1700000000", "label_config": CONFIG},
    )
    assert status == 200
    assert [len(p["result"]) > 0 for p in body["results"]] == [False, True, False]
    assert body["results"][0] == {"result": [], "score": 0.0, "model_version": "byom-detector@1"}
    link = ModelProject.objects.get(model=detector_model)
    assert link.errors_total == 2
    assert "404" in link.last_error or "no image" in link.last_error


def test_unmapped_classes_are_dropped_and_counted(
    client: Client, detector_model: RegisteredModel, label_studio: str
) -> None:
    setup_project(client, label_studio)
    ClassMapping.objects.filter(model_class__name="circle").update(from_name="", label="")
    tasks = [{"id": 2, "data": {"image": "/data/upload/1/two.png"}}]
    _, body = post(
        client,
        "/ml/byom-detector/predict",
        {"tasks": tasks, "project": "1.1700000000", "label_config": CONFIG},
    )
    labels = [
        r["value"]["rectanglelabels"][0]
        for r in body["results"][0]["result"]
        if r["type"] == "rectanglelabels"
    ]
    assert labels == ["Box"]
    assert ModelProject.objects.get(model=detector_model).unmapped_total == 1
    assert RegisteredModel.objects.get(pk=detector_model.pk).unmapped_total == 1
    # Each class's results in the project are counted, mapped or not (the admin's mapping table).
    circle = ClassMapping.objects.get(model_class__name="circle")
    assert (circle.results_total, circle.is_mapped) == (1, False) and circle.last_result_at is not None
    assert ClassMapping.objects.get(model_class__name="rectangle").results_total == 0


def test_a_mapping_threshold_overrides_the_models(
    client: Client, detector_model: RegisteredModel, label_studio: str
) -> None:
    setup_project(client, label_studio)
    # The model's threshold drops the brightness tag (about 0.93); the rectangle's own mapping lets it through.
    RegisteredModel.objects.filter(pk=detector_model.pk).update(threshold=0.99)
    ClassMapping.objects.filter(model_class__name="rectangle").update(threshold=0.5)
    tasks = [{"id": 1, "data": {"image": "/data/upload/1/rect.png"}}]
    _, body = post(
        client,
        "/ml/byom-detector/predict",
        {"tasks": tasks, "project": "1.1700000000", "label_config": CONFIG},
    )
    assert [r["type"] for r in body["results"][0]["result"]] == ["rectanglelabels"]
    ClassMapping.objects.filter(model_class__name="rectangle").update(threshold=None)
    _, body = post(
        client,
        "/ml/byom-detector/predict",
        {"tasks": tasks, "project": "1.1700000000", "label_config": CONFIG},
    )
    assert [r["type"] for r in body["results"][0]["result"]] == ["rectanglelabels"]  # 1.0 >= the model's 0.99


def test_the_admin_changes_a_mapping_within_the_projects_labels(
    admin_client: Client, client: Client, detector_model: RegisteredModel, label_studio: str
) -> None:
    setup_project(client, label_studio)
    link = ModelProject.objects.get(model=detector_model)
    page = admin_client.get(f"/admin/registry/modelproject/{link.pk}/change/")
    assert page.status_code == 200
    mappings = list(ClassMapping.objects.filter(model_project=link).order_by("model_class__name"))
    form: dict[str, Any] = {
        "mappings-TOTAL_FORMS": str(len(mappings)),
        "mappings-INITIAL_FORMS": str(len(mappings)),
        "mappings-MIN_NUM_FORMS": "0",
        "mappings-MAX_NUM_FORMS": "1000",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
        "state-TOTAL_FORMS": "0",
        "state-INITIAL_FORMS": "0",
        "state-MIN_NUM_FORMS": "0",
        "state-MAX_NUM_FORMS": "1000",
    }
    for i, mapping in enumerate(mappings):
        target = json.dumps([mapping.from_name, mapping.label]) if mapping.from_name else ""
        if mapping.model_class.name == "circle":
            target = json.dumps(["boxes", "Box"])
        form.update(
            {
                f"mappings-{i}-id": str(mapping.pk),
                f"mappings-{i}-model_project": str(link.pk),
                f"mappings-{i}-target": target,
                f"mappings-{i}-threshold": "",
            }
        )
    response = admin_client.post(f"/admin/registry/modelproject/{link.pk}/change/", form)
    assert response.status_code == 302, (
        (
            [f.formset.errors for f in response.context["inline_admin_formsets"]],
            response.context["adminform"].form.errors,
        )
        if response.context
        else response.status_code
    )
    circle = ClassMapping.objects.get(model_class__name="circle")
    assert (circle.from_name, circle.label, circle.automatic) == ("boxes", "Box", False)
    # A label that cannot show the class (a choice for a box) is refused on save, and nothing is saved.
    index = [m.model_class.name for m in mappings].index("circle")
    form[f"mappings-{index}-target"] = json.dumps(["scene", "Dark"])
    form[f"mappings-{index}-threshold"] = "0.7"
    response = admin_client.post(f"/admin/registry/modelproject/{link.pk}/change/", form)
    assert response.status_code == 200
    assert "Select a valid choice" in str(mapping_errors(response)[index]["target"])
    circle = ClassMapping.objects.get(model_class__name="circle")
    assert (circle.label, circle.threshold) == ("Box", None)
    # The project's config changes meanwhile (Box is gone): the mapping the page still shows is
    # checked again on save and refused, though the form offers it as the current value.
    body = {
        "project": "1.1700000000",
        "schema": CONFIG.replace('<Label value="Box" predicted_values="rectangle, square"/>', ""),
        "hostname": label_studio,
    }
    assert post(client, "/ml/byom-detector/setup", body)[0] == 200
    form[f"mappings-{index}-target"] = json.dumps(["boxes", "Box"])
    response = admin_client.post(f"/admin/registry/modelproject/{link.pk}/change/", form)
    assert response.status_code == 200
    assert "boxes:Box is not a label of a control tag that can show a bounding_box class" in str(
        mapping_errors(response)[index]["target"]
    )
    circle = ClassMapping.objects.get(model_class__name="circle")
    assert (circle.label, circle.threshold) == ("Box", None)


def mapping_errors(response: Any) -> list[Any]:
    """The errors of each row of the mappings inline on a refused admin page."""
    formsets = response.context["inline_admin_formsets"]
    return next(f.formset.errors for f in formsets if f.formset.prefix == "mappings")


def test_test_connection_sends_a_generated_image(
    admin_client: Client, detector_model: RegisteredModel
) -> None:
    response = admin_client.post(
        "/admin/registry/registeredmodel/",
        {"action": "test_connection", "_selected_action": [detector_model.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "Answered a 64x64 test image" in text and "square" in text
    detector_model.refresh_from_db()
    assert detector_model.last_check_ok is True


def test_a_dead_model_server_fails_the_check_and_empties_predictions(
    admin_client: Client, client: Client, label_studio: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/api/infer"
    model = RegisteredModel.objects.create(
        name="dead", slug="byom-detector", kind="http", url=dead, timeout_seconds=2
    )
    ModelClass.objects.create(model=model, name="rectangle", type="bounding_box")
    response = admin_client.post(
        "/admin/registry/registeredmodel/",
        {"action": "test_connection", "_selected_action": [model.pk]},
        follow=True,
    )
    shown = " | ".join(str(m) for m in response.context["messages"])
    assert "byom-detector: http://127.0.0.1" in shown and "unreachable" in shown, shown
    model.refresh_from_db()
    assert model.last_check_ok is False and model.last_check_error
    setup_project(client, label_studio)
    tasks = [{"id": 1, "data": {"image": "/data/upload/1/rect.png"}}]
    status, body = post(
        client,
        "/ml/byom-detector/predict",
        {"tasks": tasks, "project": "1.1700000000", "label_config": CONFIG},
    )
    assert status == 200 and body["results"][0]["result"] == []
    assert ModelProject.objects.get(model=model).errors_total == 1
