"""The 32-point conformance checklist of the protocol reference, run against the Django test client
and against a live gunicorn server (the `protocol` fixture). Point numbers are in the test names;
points 1 to 9 (health and setup) are here, the rest in test_conformance.py."""

from __future__ import annotations

from typing import Any

import pytest

from registry.models import ModelProject, ModelState, Project, RegisteredModel
from tests.conftest import CFG, ProtocolClient
from tests.inference.conformance import setup_body

pytestmark = pytest.mark.django_db(transaction=True)


def test_01_health_answers_up_with_the_model_class(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    answer = protocol.get("/ml/dummy/health")
    assert answer.status == 200
    assert answer.body["status"] == "UP"
    assert answer.body["model_class"] == "DummyModel"


@pytest.mark.parametrize("path", ["/ml/dummy", "/ml/dummy/"])
def test_02_root_answers_like_health(
    protocol: ProtocolClient, models: dict[str, RegisteredModel], path: str
) -> None:
    answer = protocol.get(path)
    assert answer.status == 200
    assert answer.body == protocol.get("/ml/dummy/health").body


def test_03_metrics_is_a_json_object(protocol: ProtocolClient, models: dict[str, RegisteredModel]) -> None:
    answer = protocol.get("/ml/dummy/metrics")
    assert answer.status == 200
    assert answer.body["model_version"] == "dummy@1"


def test_04_setup_returns_a_non_empty_version_and_records_the_project(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    answer = protocol.post("/ml/dummy/setup", setup_body(unknown_key="ignored"))
    assert answer.status == 200
    assert answer.body == {"model_version": "dummy@1"}
    project = Project.objects.get(ls_project_id=7, created_ts=1700000000)
    assert project.instance.hostname == "http://localhost:8080"
    assert project.models.get(model__slug="dummy").access_token == "abc"  # the calling model's own
    assert "sentiment" in project.parsed_label_config


def test_05_setup_with_an_empty_view_and_empty_extra_params(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    answer = protocol.post(
        "/ml/dummy/setup", {"project": "1.1000000000", "schema": "<View></View>", "extra_params": {}}
    )
    assert answer.status == 200
    assert answer.body["model_version"]


def test_06_setup_with_a_bare_project_id(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    body = {"project": "1", "schema": CFG, "hostname": "http://localhost:8080", "access_token": "test-token"}
    assert protocol.post("/ml/dummy/setup", body).status == 200
    assert Project.objects.get(ls_project_id=1).created_ts == 0


def test_07_setup_with_only_project_and_schema(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    answer = protocol.post("/ml/dummy/setup", {"project": "42", "schema": CFG})
    assert (answer.status, answer.body) == (200, {"model_version": "dummy@1"})
    # No hostname or token: the project is still recorded, with its config, under an instance without a token.
    project = Project.objects.get(ls_project_id=42)
    assert (project.created_ts, project.label_config, project.instance.access_token) == (0, CFG, "")
    assert project.parsed_label_config["sentiment"]["labels"] == ["Positive", "Negative"]
    assert ModelProject.objects.get(model__slug="dummy", project=project).label_config == CFG


@pytest.mark.parametrize(("extra_params", "stored"), [('{"k": 1}', '{"k": 1}'), ({"a": 1}, '{"a": 1}')])
def test_08_setup_accepts_extra_params_as_string_or_object(
    protocol: ProtocolClient, models: dict[str, RegisteredModel], extra_params: Any, stored: str
) -> None:
    assert protocol.post("/ml/stateful/setup", setup_body(extra_params=extra_params)).status == 200
    assert ModelState.objects.get(key="extra_params").value == stored


def test_09_setup_twice_gives_the_same_version(
    protocol: ProtocolClient, models: dict[str, RegisteredModel]
) -> None:
    first = protocol.post("/ml/text-classifier/setup", setup_body())
    second = protocol.post("/ml/text-classifier/setup", setup_body())
    assert first.body["model_version"] == second.body["model_version"] == "text-classifier@1"
    assert Project.objects.count() == 1
