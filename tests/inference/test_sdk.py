"""The SDK base class, standalone and as the Hub serves it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from label_studio_sdk._extensions.label_studio_tools.core.label_config import parse_config
from label_studio_sdk.label_interface.objects import PredictionValue

from inference.kinds.python.loading import _instances
from registry.models import ModelState, RegisteredModel
from tests.conftest import CFG, register
from tests.models.protocol import EchoModel
from wow_ai_hub import WOWAIHUB, LabelStudioMLBase, ModelResponse

DETECTION_CFG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="label" toName="image">
  <Label value="Airplane" background="green"/>
  <Label value="Car" background="blue" predicted_values="car, truck"/>
  <Label value="Bus"/>
  <Label value="Person" predicted_values="pedestrian"/>
</RectangleLabels></View>"""


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    response = client.post(path, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_the_product_name_and_the_label_studio_name_are_one_class() -> None:
    assert LabelStudioMLBase is WOWAIHUB


def test_parsed_label_config_is_label_studios_structure() -> None:
    model = WOWAIHUB(project_id="1", label_config=DETECTION_CFG)
    assert model.parsed_label_config == parse_config(DETECTION_CFG)
    assert model.label_config == DETECTION_CFG
    assert model.get_first_tag_occurence("RectangleLabels", "Image") == ("label", "image", "image")
    with pytest.raises(ValueError, match="No control tag"):
        model.get_first_tag_occurence("Choices", "Text")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["car", "truck", "airplane"], {"car": "Car", "truck": "Car", "airplane": "Airplane"}),
        (["Airplane"], {"Airplane": "Airplane"}),
        (["BUS"], {"BUS": "Bus"}),
        (["pedestrian", "person"], {"pedestrian": "Person"}),
        (["Car"], {"Car": "Car"}),  # no predicted value matches: the label's own name still does
        (["boat"], {}),
        ([], {}),
    ],
)
def test_build_label_map_follows_predicted_values_then_names(
    names: list[str], expected: dict[str, str]
) -> None:
    model = WOWAIHUB(label_config=DETECTION_CFG)
    assert model.build_label_map("label", names) == expected


def test_build_label_map_names_a_missing_tag() -> None:
    with pytest.raises(KeyError, match="nope"):
        WOWAIHUB(label_config=DETECTION_CFG).build_label_map("nope", ["car"])


def test_standalone_state_extra_params_and_version() -> None:
    model = WOWAIHUB(project_id="3", label_config=CFG)
    assert model.model_version == WOWAIHUB.INITIAL_MODEL_VERSION
    assert model.extra_params == {}
    model.set_extra_params({"threshold": 0.5})
    assert model.extra_params == {"threshold": 0.5}
    model.set("extra_params", "not json")
    assert model.extra_params == {}
    model.set("k", "v")
    assert (model.get("k"), model.has("k"), model.has("other")) == ("v", True, False)
    with pytest.raises(TypeError, match="strings"):
        model.set("k", 3)  # type: ignore[arg-type]


def test_model_response_fills_missing_versions_only() -> None:
    response = ModelResponse(
        model_version="1.0",
        predictions=[
            PredictionValue(result=[], score=0.1, model_version="0.1"),
            [PredictionValue(result=[])],
            PredictionValue(result=[]),
        ],
    )
    response.update_predictions_version()
    dumped = response.model_dump()
    assert [
        p["model_version"]
        for p in (dumped["predictions"][0], dumped["predictions"][1][0], dumped["predictions"][2])
    ] == [
        "0.1",
        "1.0",
        "1.0",
    ]


@pytest.mark.django_db
def test_a_model_file_written_for_label_studio_ml_backend_runs_in_the_hub() -> None:
    register("sdk-style", "tests.models.ls_sdk_style.KeywordSentiment")
    client = Client()
    status, body = post(
        client,
        "/ml/sdk-style/setup",
        {"project": "5.1700000000", "schema": CFG, "extra_params": '{"threshold": 0.7}'},
    )
    assert (status, body) == (200, {"model_version": "sdk-style@1"})
    tasks = [{"id": 1, "data": {"text": "I love this, great"}}, {"id": 2, "data": {"text": "meh"}}]
    status, body = post(
        client, "/ml/sdk-style/predict", {"tasks": tasks, "project": "5.1700000000", "label_config": CFG}
    )
    assert status == 200
    first, second = body["results"]
    assert first["result"] == [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["Positive"]},
            "score": 0.9,
        }
    ]
    # The model names its own version (in setup()): its predictions carry it, as upstream's do.
    assert first["score"] == 0.9 and first["model_version"] == "KeywordSentiment-v0.0.1"
    # Below the extra_params threshold (0.6 < 0.7): the model itself chose to say nothing.
    assert second == {"result": [], "score": 0.0, "model_version": "KeywordSentiment-v0.0.1"}
    state = dict(ModelState.objects.values_list("key", "value"))
    assert state["last_batch_size"] == "2"
    assert state["model_version"] == "KeywordSentiment-v0.0.1"
    # Once the model has been built in the project, /setup reports that version too.
    status, body = post(client, "/ml/sdk-style/setup", {"project": "5.1700000000", "schema": CFG})
    assert (status, body) == (200, {"model_version": "KeywordSentiment-v0.0.1"})
    assert "KeywordSentiment-v0.0.1" in Client().get("/ml/sdk-style/versions").json()["versions"]


@pytest.mark.django_db
def test_state_is_kept_per_project_in_the_database() -> None:
    # Its answer counts its calls: a model whose answer changes without a new version.
    register("stateful", "tests.models.protocol.StatefulModel", prediction_cache=False)
    cfg = '<View><Text name="text" value="$text"/><TextArea name="note" toName="text"/></View>'
    client = Client()
    post(client, "/ml/stateful/setup", {"project": "1.100", "schema": cfg, "extra_params": {"a": 1}})
    notes = []
    for project in ("1.100", "1.100", "2.200"):
        params = {"login": "user", "password": None, "context": None}
        _, body = post(
            client,
            "/ml/stateful/predict",
            {"tasks": [{"id": 1}], "project": project, "label_config": cfg, "params": params},
        )
        notes.append(body["results"][0]["result"][0]["value"]["text"][0])
    assert notes == [
        "calls=1 extra=[('a', 1)] login=user",
        "calls=2 extra=[('a', 1)] login=user",
        "calls=1 extra=[] login=user",
    ]


@pytest.mark.django_db
def test_an_instance_is_built_once_per_worker_and_rebuilt_for_a_new_version_or_config() -> None:
    _instances.clear()
    EchoModel.constructed = 0
    model = register("echo", "tests.models.protocol.EchoModel")
    client = Client()
    cfg = '<View><Text name="text" value="$text"/><TextArea name="note" toName="text"/></View>'
    body = {"tasks": [{"id": 1}], "project": "1.100", "label_config": cfg}
    for _ in range(3):
        assert post(client, "/ml/echo/predict", body)[0] == 200
    assert EchoModel.constructed == 1
    RegisteredModel.objects.filter(pk=model.pk).update(version=2)
    _, answer = post(client, "/ml/echo/predict", body)
    assert answer["results"][0]["model_version"] == "echo@2"
    assert EchoModel.constructed == 2
    other_cfg = cfg.replace('name="note"', 'name="note2"')
    _, answer = post(client, "/ml/echo/predict", {**body, "label_config": other_cfg})
    assert answer["results"][0]["result"][0]["from_name"] == "note2"
    assert EchoModel.constructed == 3
