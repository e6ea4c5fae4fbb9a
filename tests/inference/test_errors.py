"""Bad input gets a clear error in the one JSON shape and leaves no rows behind."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from registry.models import LabelStudioInstance, ModelProject, Project, RegisteredModel, WebhookEvent
from tests.conftest import CFG, ProtocolClient

pytestmark = pytest.mark.django_db(transaction=True)

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    '<View><Text name="t" value="&lol3;"/></View>'
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE v [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><View>&xxe;</View>'
)


def assert_error(answer: Any, status: int, code: str, mentions: str = "") -> None:
    assert answer.status == status, answer.body
    assert set(answer.body) <= {"error", "code", "fields"}
    assert answer.body["code"] == code
    assert mentions in answer.body["error"]
    assert "Traceback" not in answer.body["error"]


def assert_nothing_written() -> None:
    assert not Project.objects.exists()
    assert not LabelStudioInstance.objects.exists()
    assert not ModelProject.objects.exists()
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("path", "raw", "mentions"),
    [
        ("/ml/dummy/predict", "{not json", "JSON parse error"),
        ("/ml/dummy/setup", "[1, 2", "JSON parse error"),
        ("/ml/dummy/webhook", "", ""),
    ],
)
def test_malformed_json_is_a_400(
    protocol: ProtocolClient, models: dict[str, RegisteredModel], path: str, raw: str, mentions: str
) -> None:
    answer = protocol.post(path, raw=raw)
    assert answer.status == 400
    assert answer.body["code"] in {"parse_error", "invalid"}
    assert mentions in answer.body["error"]
    assert_nothing_written()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "tasks"),
        ({"tasks": "task"}, "tasks"),
        ({"tasks": [1, 2]}, "tasks"),
        ({"tasks": [], "project": "abc"}, "project"),
        ({"tasks": [], "project": "7.x"}, "project"),
        ({"tasks": [], "project": True}, "project"),
        ({"tasks": [], "params": [1]}, "params"),
        ({"tasks": [], "params": {"context": "text"}}, "params"),
        ({"tasks": [], "label_config": ["<View/>"]}, "label_config"),
    ],
)
def test_predict_rejects_wrong_types_naming_the_field(
    protocol: ProtocolClient, models: dict[str, RegisteredModel], body: dict[str, Any], field: str
) -> None:
    answer = protocol.post("/ml/dummy/predict", body)
    assert_error(answer, 400, "invalid", field)
    assert field in answer.body["fields"]
    assert_nothing_written()


def test_too_many_tasks_is_a_400(protocol: ProtocolClient, models: dict[str, RegisteredModel]) -> None:
    # The configured limit (the live server reads the same environment), not one set for the test.
    limit = settings.HUB_MAX_TASKS_PER_REQUEST
    answer = protocol.post("/ml/dummy/predict", {"tasks": [{"id": i} for i in range(limit + 1)]})
    assert_error(answer, 400, "invalid", f"at most {limit} tasks")
    assert RegisteredModel.objects.get(slug="dummy").predictions_total == 0


@pytest.mark.parametrize(
    ("schema", "mentions"),
    [
        ("this is not xml", "not well-formed XML"),
        ("<View><Text name='t' value='$t'></View>", "not well-formed XML"),
        ("<Config><Text name='t' value='$t'/></Config>", "<View> as its root"),
        (BILLION_LAUGHS, "forbidden XML"),
        (EXTERNAL_ENTITY, "forbidden XML"),
    ],
    ids=["not-xml", "unclosed", "wrong-root", "billion-laughs", "external-entity"],
)
def test_bad_or_hostile_label_configs_are_refused_and_nothing_is_written(
    protocol: ProtocolClient, models: dict[str, RegisteredModel], schema: str, mentions: str
) -> None:
    assert_error(
        protocol.post("/ml/dummy/setup", {"project": "7.1700000000", "schema": schema}),
        400,
        "invalid_label_config",
        mentions,
    )
    body = {"tasks": [{"id": 1}], "project": "7.1700000000", "label_config": schema}
    assert_error(protocol.post("/ml/dummy/predict", body), 400, "invalid_label_config", mentions)
    assert_nothing_written()


def test_a_label_config_over_the_size_limit_is_refused(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    limit = settings.HUB_MAX_LABEL_CONFIG_BYTES  # the configured one, which the live server has too
    text = "<Text name='t' value='$t'/>"
    schema = "<View>" + text * (limit // len(text) + 1) + "</View>"
    for path, body in [
        ("/ml/dummy/setup", {"project": "7", "schema": schema}),
        ("/ml/dummy/predict", {"tasks": [{"id": 1}], "project": "7", "label_config": schema}),
    ]:
        assert_error(protocol.post(path, body), 400, "invalid_label_config", f"larger than {limit}")
    assert_nothing_written()


def test_an_unknown_model_is_a_404_on_every_endpoint(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    for method, path in [
        ("GET", "health"),
        ("POST", "setup"),
        ("POST", "predict"),
        ("POST", "webhook"),
        ("GET", "versions"),
    ]:
        body = {"tasks": [], "action": "ANNOTATION_CREATED", "project": "1"} if method == "POST" else None
        if path == "webhook":
            body = {"action": "ANNOTATION_CREATED"}
        answer = protocol.request(method, f"/ml/ghost/{path}", body)
        assert_error(answer, 404, "not_found", "ghost")
    assert_nothing_written()


def test_a_disabled_model_answers_503_and_keeps_no_project(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    RegisteredModel.objects.filter(slug="dummy").update(enabled=False)
    assert_error(protocol.get("/ml/dummy/health"), 503, "model_disabled", "disabled")
    assert_error(protocol.post("/ml/dummy/setup", {"project": "7.1", "schema": CFG}), 503, "model_disabled")
    assert_error(
        protocol.post("/ml/dummy/predict", {"tasks": [{"id": 1}], "project": "7.1", "label_config": CFG}),
        503,
        "model_disabled",
    )
    assert_nothing_written()


def test_a_model_path_that_does_not_import_is_a_clear_500(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    RegisteredModel.objects.create(
        name="gone", slug="gone", kind="python", import_path="tests.models.nowhere.Gone"
    )
    answer = protocol.post("/ml/gone/predict", {"tasks": [{"id": 1}], "label_config": CFG})
    assert_error(answer, 500, "model_load_failed", "cannot import 'tests.models.nowhere.Gone'")
