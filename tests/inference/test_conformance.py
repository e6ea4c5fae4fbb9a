"""The 32-point conformance checklist of the protocol reference, run against the Django test client
and against a live gunicorn server (the `protocol` fixture). Point numbers are in the test names;
points 1 to 9 are in test_conformance_setup.py."""

from __future__ import annotations

from typing import Any

import pytest

from registry.models import ModelProject, Project, RegisteredModel, TrainingJob, WebhookEvent
from tests.conftest import CFG, ECHO_CFG, ProtocolClient
from tests.inference.conformance import FULL_PARAMS, setup_body

pytestmark = pytest.mark.django_db(transaction=True)


def test_10_predict_returns_one_prediction_per_task_in_order_with_the_setup_version(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    version = protocol.post("/ml/echo/setup", setup_body(schema=ECHO_CFG)).body["model_version"]
    tasks = [{"id": task_id, "data": {"text": f"t{task_id}"}} for task_id in (5, 3, 9, 1)]
    answer = protocol.post(
        "/ml/echo/predict",
        {"tasks": tasks, "project": "7.1700000000", "label_config": ECHO_CFG, "params": FULL_PARAMS},
    )
    assert answer.status == 200
    results = answer.body["results"]
    assert [r["result"][0]["value"]["text"] for r in results] == [["5"], ["3"], ["9"], ["1"]]
    assert all(r["model_version"] == version for r in results)
    assert all(isinstance(r["score"], float) for r in results)


def test_11_choices_region_shape(protocol: ProtocolClient, models: dict[str, RegisteredModel]) -> None:
    tasks = [
        {"id": 1, "data": {"text": "I love it, great product"}},
        {"id": 2, "data": {"text": "awful, it broke"}},
    ]
    answer = protocol.post(
        "/ml/text-classifier/predict",
        {"tasks": tasks, "project": "7.1700000000", "label_config": CFG, "params": FULL_PARAMS},
    )
    regions = [r["result"][0] for r in answer.body["results"]]
    assert [{k: region[k] for k in ("from_name", "to_name", "type")} for region in regions] == [
        {"from_name": "sentiment", "to_name": "text", "type": "choices"}
    ] * 2
    assert [region["value"] for region in regions] == [{"choices": ["Positive"]}, {"choices": ["Negative"]}]
    assert all(0.5 < r["score"] <= 1 for r in answer.body["results"])


def test_12_predict_without_project_or_params(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    answer = protocol.post(
        "/ml/dummy/predict", {"tasks": [{"id": 1, "data": {"text": "hi"}}], "label_config": CFG}
    )
    assert answer.status == 200
    assert answer.body["results"][0]["result"][0]["value"] == {"choices": ["Positive"]}


def test_13_predict_with_a_single_task_object_and_empty_context(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    body = {
        "tasks": {"id": 1},
        "label_config": "<View></View>",
        "project": "1.1000000000",
        "params": {"context": {}},
    }
    answer = protocol.post("/ml/dummy/predict", body)
    assert answer.status == 200
    assert len(answer.body["results"]) == 1


def test_14_nothing_to_predict_gives_an_empty_prediction_per_task(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    body = {
        "tasks": [{"id": 1, "data": {}}, {"id": 2, "data": {}}],
        "label_config": "<View></View>",
        "project": "1.1234567890",
    }
    answer = protocol.post("/ml/dummy/predict", body)
    assert answer.body["results"] == [{"result": [], "score": 0.0, "model_version": "dummy@1"}] * 2


@pytest.mark.parametrize(
    "context",
    [
        {
            "result": [
                {
                    "value": {"start": 0, "end": 2, "text": "hi", "labels": ["ORG"]},
                    "from_name": "label",
                    "to_name": "text",
                    "type": "labels",
                }
            ]
        },
        {
            "annotation_id": None,
            "draft_id": 0,
            "user_id": 2640,
            "result": [{"value": {"text": "hi"}, "from_name": "x", "to_name": "text", "type": "labels"}],
        },
    ],
    ids=["15-current-shape", "16-legacy-shape"],
)
def test_15_16_interactive_calls_get_a_single_prediction_dict(
    protocol: ProtocolClient, models: dict[str, RegisteredModel], context: dict[str, Any]
) -> None:
    body = {
        "tasks": [{"id": 1, "data": {"text": "hi"}}],
        "project": "7.1700000000",
        "label_config": CFG,
        "params": {"login": None, "password": None, "context": context},
    }
    answer = protocol.post("/ml/two/predict", body)
    assert answer.status == 200
    first = answer.body["results"][0]
    assert isinstance(first, dict)
    assert first["result"] == [
        {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Positive"]}}
    ]


def test_17_several_predictions_per_task_come_as_a_list(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    body = {
        "tasks": [{"id": 1, "data": {"text": "a"}}, {"id": 2, "data": {"text": "b"}}],
        "label_config": CFG,
        "project": "7.1700000000",
    }
    results = protocol.post("/ml/two/predict", body).body["results"]
    assert [len(entry) for entry in results] == [2, 2]
    assert [p["result"][0]["value"]["choices"] for p in results[0]] == [["Positive"], ["Negative"]]
    assert [p["score"] for p in results[0]] == [0.8, 0.2]
    # The Hub owns the version: every prediction carries the one /setup reports.
    assert {p["model_version"] for entry in results for p in entry} == {"two@1"}


IMAGE_CFG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="box" toName="image"><Label value="Car"/></RectangleLabels>'
    '<BrushLabels name="mask" toName="image"><Label value="Car"/></BrushLabels></View>'
)


def test_18_19_rectangle_and_brush_regions_reach_label_studio_intact(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    import numpy as np
    from label_studio_sdk.converter.brush import decode_rle

    body = {
        "tasks": [{"id": 1, "data": {"image": "http://example.invalid/a.png"}}],
        "label_config": IMAGE_CFG,
        "project": "3.1700000000",
    }
    result = protocol.post("/ml/image/predict", body).body["results"][0]["result"]
    rectangle, brush = result
    assert rectangle["type"] == "rectanglelabels"
    assert rectangle["value"] == {
        "x": 25.0,
        "y": 10.0,
        "width": 50.0,
        "height": 40.0,
        "rotation": 0,
        "rectanglelabels": ["Car"],
    }
    assert (rectangle["original_width"], rectangle["original_height"], rectangle["image_rotation"]) == (
        40,
        30,
        0,
    )
    assert brush["type"] == "brushlabels" and brush["value"]["format"] == "rle"
    decoded = np.asarray(decode_rle(brush["value"]["rle"]))
    assert decoded.size == 40 * 30 * 4
    assert decoded.reshape(30, 40, 4)[10, 20, 0] == 255 and decoded.reshape(30, 40, 4)[0, 0, 0] == 0


@pytest.mark.parametrize("slug", ["raising", "broken"])
def test_20_21_a_failing_model_gives_a_json_5xx_without_traceback(
    protocol: ProtocolClient, models: dict[str, RegisteredModel], slug: str
) -> None:
    body = {"tasks": [{"id": 1, "data": {"text": "x"}}], "label_config": CFG, "project": "7.1700000000"}
    answer = protocol.post(f"/ml/{slug}/predict", body)
    assert answer.status == 500
    assert set(answer.body) == {"error", "code"}
    assert answer.body["code"] == {"raising": "model_error", "broken": "model_load_failed"}[slug]
    assert slug in answer.body["error"]
    assert "Traceback" not in answer.body["error"]
    assert RegisteredModel.objects.get(slug=slug).errors_total == 1


def test_20_a_model_returning_the_wrong_number_of_predictions_is_reported(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    body = {"tasks": [{"id": 1, "data": {"text": "x"}}], "label_config": CFG}
    answer = protocol.post("/ml/wrong-count/predict", body)
    assert answer.status == 500
    assert answer.body["code"] == "model_bad_output"
    assert "2 predictions for 1 tasks" in answer.body["error"]


@pytest.mark.parametrize(
    "action", ["ANNOTATION_CREATED", "START_TRAINING", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"]
)
def test_22_23_24_learning_events_are_stored_and_acknowledged_with_201(
    protocol: ProtocolClient, models: dict[str, RegisteredModel], action: str
) -> None:
    body = {
        "action": action,
        "project": {"id": 1, "label_config": "<View></View>", "created_at": "2023-11-14T22:13:20Z"},
        "annotation": {"project": 1, "id": 5},
    }
    answer = protocol.post("/ml/dummy/webhook", body)
    assert answer.status == 201
    assert answer.body["status"] == "ok" and answer.body["result"] is None
    event = WebhookEvent.objects.get(pk=answer.body["event"])
    assert event.action == action
    assert event.ls_project_id == 1
    assert event.payload["annotation"] == {"project": 1, "id": 5}


def test_22_webhook_links_the_event_to_the_project_set_up_earlier(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    protocol.post("/ml/dummy/setup", setup_body(project="1.1700000000"))
    body = {"action": "ANNOTATION_CREATED", "project": {"id": 1, "created_at": "2023-11-14T22:13:20.123Z"}}
    answer = protocol.post("/ml/dummy/webhook", body)
    assert WebhookEvent.objects.get(pk=answer.body["event"]).project == Project.objects.get(ls_project_id=1)


def test_22_the_same_event_delivered_twice_is_stored_once(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    body = {"action": "ANNOTATION_CREATED", "project": {"id": 1}, "annotation": {"id": 9}}
    first = protocol.post("/ml/dummy/webhook", body)
    second = protocol.post("/ml/dummy/webhook", body)
    assert first.body["event"] == second.body["event"]
    assert (first.body["duplicate"], second.body["duplicate"]) == (False, True)
    assert WebhookEvent.objects.count() == 1


@pytest.mark.parametrize(
    "action",
    ["PROJECT_UPDATED", "TASKS_CREATED", "TASKS_DELETED", "ANNOTATIONS_CREATED_X", "LABEL_LINK_CREATED"],
)
def test_25_other_events_are_acknowledged_and_not_stored(
    protocol: ProtocolClient, models: dict[str, RegisteredModel], action: str
) -> None:
    answer = protocol.post("/ml/dummy/webhook", {"action": action, "project": {"id": 1}})
    assert answer.status == 200
    assert answer.body["status"] == "Unknown event"
    assert WebhookEvent.objects.count() == 0


def test_26_webhook_without_project_answers(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    answer = protocol.post("/ml/dummy/webhook", {"action": "ANNOTATION_CREATED"})
    assert answer.status == 201
    assert WebhookEvent.objects.get().ls_project_id is None
    assert protocol.post("/ml/dummy/webhook", {}).status == 400


def test_27_versions_lists_the_version_setup_reports(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    version = protocol.post("/ml/dummy/setup", setup_body()).body["model_version"]
    answer = protocol.get("/ml/dummy/versions")
    assert answer.status == 200
    assert version in answer.body["versions"]


def test_28_legacy_train_starts_a_job_whose_status_label_studio_can_ask(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    protocol.post("/ml/dummy/setup", setup_body())
    body = {
        "annotations": [],
        "project": "7.1700000000",
        "label_config": CFG,
        "params": {"login": None, "password": None},
    }
    answer = protocol.post("/ml/dummy/train", body)
    assert answer.status == 201
    job = TrainingJob.objects.get(pk=int(answer.body["job"]))
    assert (job.trigger, job.status) == ("manual", "queued")
    assert WebhookEvent.objects.get().action == "START_TRAINING"
    status = protocol.post("/ml/dummy/job_status", {"job": answer.body["job"]})
    assert status.body["job_status"] == "queued"
    assert protocol.post("/ml/dummy/job_status", {"job": "999999"}).status == 404


def test_30_wrong_method_is_405_and_unknown_paths_are_404_json(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    wrong_method = protocol.get("/ml/dummy/predict")
    assert (wrong_method.status, wrong_method.body["code"]) == (405, "method_not_allowed")
    for path in ("/ml/dummy/validate", "/ml/no-such-model/predict", "/nothing-here"):
        answer = protocol.post(path, {"tasks": []})
        assert answer.status == 404, path
        assert answer.body["code"] == "not_found"
    assert protocol.get("/ml/no-such-model/health").status == 404


def test_31_health_and_setup_never_build_the_model(
    protocol: ProtocolClient,
    models: dict[str, RegisteredModel],
    request: pytest.FixtureRequest,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if protocol.kind == "live":
        marker = request.getfixturevalue("live_hub").marker
    else:
        marker = tmp_path / "constructed"
        monkeypatch.setenv("HUB_TEST_CONSTRUCTION_MARKER", str(marker))
    assert protocol.get("/ml/slow/health").status == 200
    assert protocol.post("/ml/slow/setup", setup_body()).status == 200
    assert protocol.get("/ml/slow/versions").status == 200
    assert not marker.exists(), "the 10-second constructor ran inside /health or /setup"


def test_predictions_are_checked_against_the_label_config_and_drops_are_counted(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    body = {"tasks": [{"id": 1, "data": {"text": "x"}}], "label_config": CFG, "project": "7.1700000000"}
    result = protocol.post("/ml/mixed/predict", body).body["results"][0]["result"]
    assert [region["id"] for region in result] == ["a"]
    link = ModelProject.objects.get(model__slug="mixed")
    assert link.dropped_regions_total == 7
    assert RegisteredModel.objects.get(slug="mixed").dropped_regions_total == 7
