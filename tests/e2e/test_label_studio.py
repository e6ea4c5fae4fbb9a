"""Label Studio 1.23 connects to the Hub, retrieves predictions, sends webhooks and trains through it."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
import requests
from PIL import Image, ImageDraw

from tests.e2e.conftest import TOKEN, Hub, LabelStudio, step

pytestmark = pytest.mark.e2e

TEXT_CFG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)
IMAGE_CFG = (
    '<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">'
    '<Label value="Box" predicted_values="rectangle, square"/><Label value="Ball" predicted_values="circle"/>'
    "</RectangleLabels></View>"
)
TOPIC_CFG = (
    '<View><Text name="text" value="$text"/><Choices name="topic" toName="text">'
    '<Choice value="Sports"/><Choice value="Politics"/></Choices></View>'
)


def new_project(ls: LabelStudio, title: str, config: str, tasks: list[dict[str, Any]] | None = None) -> int:
    with step(f"create project '{title}'"):
        project_id = int(ls.api("POST", "/api/projects", json={"title": title, "label_config": config})["id"])
    if tasks:
        with step(f"import {len(tasks)} tasks into '{title}'"):
            ls.api("POST", f"/api/projects/{project_id}/import", json=tasks)
    return project_id


def connect(ls: LabelStudio, project_id: int, url: str, **extra: Any) -> int:
    with step(f"connect the Hub model {url} (Validate and Save)"):
        backend = ls.api(
            "POST",
            "/api/ml",
            json={"project": project_id, "url": url, "title": url.rsplit("/", 1)[-1], **extra},
        )
        return int(backend["id"])


def retrieve_predictions(ls: LabelStudio, project_id: int) -> list[dict[str, Any]]:
    with step("Retrieve Predictions"):
        ls.api(
            "POST",
            f"/api/dm/actions?id=retrieve_tasks_predictions&project={project_id}",
            json={"project": str(project_id), "selectedItems": {"all": True, "excluded": []}},
        )
    with step("read back the stored predictions"):
        tasks = ls.api("GET", f"/api/tasks?project={project_id}&page_size=1000")["tasks"]
        return [ls.api("GET", f"/api/tasks/{task['id']}") for task in tasks]


def test_text_classification_gets_a_prediction_for_every_task(label_studio: LabelStudio, hub: Hub) -> None:
    texts = [
        "I love this, it is great",
        "Terrible, it broke at once",
        "Excellent service, very happy",
        "Awful and slow",
    ]
    project_id = new_project(label_studio, "Sentiment", TEXT_CFG, [{"text": t} for t in texts])
    connect(label_studio, project_id, f"{hub.url}/ml/text-classifier")
    tasks = retrieve_predictions(label_studio, project_id)
    with step("check the predictions"):
        assert len(tasks) == 4
        by_text = {t["data"]["text"]: t["predictions"] for t in tasks}
        for text, expected in zip(texts, ["Positive", "Negative", "Positive", "Negative"], strict=True):
            [prediction] = by_text[text]
            assert prediction["model_version"] == "text-classifier@1"
            assert prediction["result"][0]["value"]["choices"] == [expected], (text, prediction)
            assert 0.5 < prediction["score"] <= 1


def shapes_png() -> bytes:
    picture = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(picture).rectangle((40, 20, 139, 99), fill=(200, 30, 30))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def test_uploaded_images_get_rectangles_from_the_external_detector(
    label_studio: LabelStudio, hub: Hub
) -> None:
    project_id = new_project(label_studio, "Detection", IMAGE_CFG)
    with step("upload an image into Label Studio"):
        label_studio.api(
            "POST",
            f"/api/projects/{project_id}/import",
            files={"file": ("shapes.png", shapes_png(), "image/png")},
        )
    connect(label_studio, project_id, f"{hub.url}/ml/byom-detector")
    [task] = retrieve_predictions(label_studio, project_id)
    with step("check the rectangle (the Hub fetched /data/upload/... with Label Studio's token)"):
        assert task["data"]["image"].startswith("/data/upload/")
        [prediction] = task["predictions"]
        boxes = [r for r in prediction["result"] if r["type"] == "rectanglelabels"]
        assert len(boxes) == 1, prediction
        value = boxes[0]["value"]
        assert value["rectanglelabels"] == ["Box"]
        assert abs(value["x"] - 10) < 1 and abs(value["y"] - 10) < 1.5
        assert abs(value["width"] - 25) < 1 and abs(value["height"] - 40) < 1.5


NER_CFG = (
    '<View><Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>'
    '<Text name="text" value="$text"/></View>'
)


def test_interactive_ner_suggests_the_other_occurrences(label_studio: LabelStudio, hub: Hub) -> None:
    text = "Apple hired Tim. Later Apple said Tim and Apple agree."
    project_id = new_project(label_studio, "NER", NER_CFG, [{"text": text}])
    backend_id = connect(label_studio, project_id, f"{hub.url}/ml/ner-interactive", is_interactive=True)
    [task] = label_studio.api("GET", f"/api/tasks?project={project_id}")["tasks"]
    drawn = {
        "id": "u1",
        "from_name": "label",
        "to_name": "text",
        "type": "labels",
        "origin": "manual",
        "value": {"start": 0, "end": 5, "text": "Apple", "labels": ["ORG"]},
    }
    with step("interactive pre-annotation (the labeling UI's call)"):
        answer = label_studio.api(
            "POST",
            f"/api/ml/{backend_id}/interactive-annotating",
            json={"task": task["id"], "context": {"result": [drawn]}},
        )
    with step("check the suggestions"):
        assert "errors" not in answer, answer
        spans = [
            (r["value"]["start"], r["value"]["end"], r["value"]["labels"]) for r in answer["data"]["result"]
        ]
        assert spans == [(23, 28, ["ORG"]), (42, 47, ["ORG"])], answer


TRAINING = [
    ("The striker scored twice in the final", "Sports"),
    ("The goalkeeper saved a penalty in the cup match", "Sports"),
    ("She won the marathon and broke the record", "Sports"),
    ("The team won the league game", "Sports"),
    ("Parliament passed the budget after a debate", "Politics"),
    ("The minister resigned over the election scandal", "Politics"),
    ("The senate rejected the tax law", "Politics"),
    ("Voters chose a new president", "Politics"),
]


def test_annotations_reach_the_hub_and_start_training_changes_the_version(
    label_studio: LabelStudio, hub: Hub
) -> None:
    project_id = new_project(
        label_studio,
        "Topics",
        TOPIC_CFG,
        [{"text": text} for text, _ in TRAINING]
        + [{"text": "The club signed a striker"}, {"text": "The president signed the law"}],
    )
    backend_id = connect(label_studio, project_id, f"{hub.url}/ml/text-classifier")
    with step("versions before training"):
        before = label_studio.api("GET", f"/api/ml/{backend_id}/versions")["versions"]
        assert before[0] == "text-classifier@1", before  # plus versions trained for other projects
    tasks = label_studio.api("GET", f"/api/tasks?project={project_id}&page_size=100")["tasks"]
    labels = dict(TRAINING)
    with step("annotate tasks in Label Studio (its webhook sends them to the Hub)"):
        for task in tasks:
            label = labels.get(task["data"]["text"])
            if label:
                result = [
                    {
                        "from_name": "topic",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": [label]},
                    }
                ]
                label_studio.api("POST", f"/api/tasks/{task['id']}/annotations", json={"result": result})
    with step("Start training"):
        label_studio.api("POST", f"/api/ml/{backend_id}/train", json={})
    with step("the worker trains and Label Studio lists the new version"):
        # The annotations' webhooks start runs of their own (debounced), so "Start training" may join
        # one or add one: wait until the Hub has none queued or running, then take the newest.
        deadline = time.monotonic() + 90
        versions = before
        while time.monotonic() < deadline and (
            len(versions) <= len(before) or hub.training_busy("text-classifier")
        ):
            time.sleep(1)
            versions = label_studio.api("GET", f"/api/ml/{backend_id}/versions")["versions"]
        added = [v for v in versions if v not in before]
        assert added and all(v.startswith("text-classifier@1.") for v in added), versions
        new = added[-1]
        assert new == versions[-1], versions
    with step("new predictions carry the new version and the learned labels"):
        setup_version = label_studio.api("GET", f"/api/ml/{backend_id}")["model_version"]
        assert setup_version == new, (setup_version, versions)
        predicted = {
            t["data"]["text"]: t["predictions"] for t in retrieve_predictions(label_studio, project_id)
        }
        for text, expected in [
            ("The club signed a striker", "Sports"),
            ("The president signed the law", "Politics"),
        ]:
            latest = [p for p in predicted[text] if p["model_version"] == setup_version]
            assert latest and latest[0]["result"][0]["value"]["choices"] == [expected], predicted[text]


def test_a_model_behind_basic_auth_is_refused_without_it_and_works_with_it(
    label_studio: LabelStudio, hub: Hub
) -> None:
    with step("require credentials for the dummy model in the Hub"):
        hub.shell(
            "from registry.models import RegisteredModel\n"
            "m = RegisteredModel.objects.get(slug='dummy')\n"
            "m.protocol_auth_required = True; m.protocol_username = 'labeler'; m.set_protocol_password('e2e-pass')\n"
            "m.save()\n"
        )
    project_id = new_project(label_studio, "Guarded", TEXT_CFG, [{"text": "anything"}])
    url = f"{hub.url}/ml/dummy"
    with step("connecting without credentials is refused"):
        response = requests.post(
            label_studio.url + "/api/ml",
            headers={"Authorization": f"Token {TOKEN}"},
            timeout=60,
            json={"project": project_id, "url": url, "title": "dummy"},
        )
        assert response.status_code == 400, response.text
        assert "authentication parameters were either not provided or are incorrect" in response.text
    connect(
        label_studio,
        project_id,
        url,
        auth_method="BASIC_AUTH",
        basic_auth_user="labeler",
        basic_auth_pass="e2e-pass",
    )
    [task] = retrieve_predictions(label_studio, project_id)
    with step("the prediction made it through basic auth"):
        [prediction] = task["predictions"]
        assert prediction["model_version"] == "dummy@1"
        assert prediction["result"][0]["value"]["choices"] == ["Positive"]
