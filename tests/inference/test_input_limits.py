"""Ids the database cannot hold and digits that are not ASCII are refused as invalid input (400 in the
error shape), not a 500 from the database or int()."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.conftest import register

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("setup", {"project": "99999999999999999999"}, "project"),
        ("setup", {"project": "1.99999999999999999999"}, "project"),
        ("predict", {"project": "99999999999999999999", "tasks": []}, "project"),
        ("train", {"project": "99999999999999999999"}, "project"),
        ("webhook", {"action": "ANNOTATION_CREATED", "project": {"id": 10**20}}, "project"),
        ("webhook", {"action": "ANNOTATION_CREATED", "project": {"id": -5}}, "project"),
        ("job_status", {"job": "²"}, "job"),
    ],
)
def test_out_of_range_ids_are_invalid_input(
    client: Client, endpoint: str, body: dict[str, Any], field: str
) -> None:
    register("dummy", "examples.dummy.model.DummyModel")
    response = client.post(f"/ml/dummy/{endpoint}", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["fields"]


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("webhook", {"action": "ANNOTATION_CREATED", "annotation": {"result": [{"text": "a\x00b"}]}}),
        ("webhook", {"action": "ANNOTATION_CREATED", "project": {"id": 1, "title\x00": "x"}}),
        ("train", {"annotations": ["\x00"]}),
    ],
)
def test_a_stored_body_with_a_nul_character_is_invalid_input(
    client: Client, endpoint: str, body: dict[str, Any]
) -> None:
    """PostgreSQL's JSON cannot hold U+0000: refused up front, not a 500 when the event is stored."""
    register("dummy", "examples.dummy.model.DummyModel")
    response = client.post(f"/ml/dummy/{endpoint}", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "NUL character" in response.json()["error"]


@pytest.mark.parametrize(
    ("endpoint", "field", "extra"),
    [
        ("setup", "schema", {"project": "1.1700000000"}),
        ("predict", "label_config", {"tasks": []}),
        ("train", "label_config", {}),
    ],
)
def test_a_label_config_with_a_lone_surrogate_is_invalid_input(
    client: Client, endpoint: str, field: str, extra: dict[str, Any]
) -> None:
    """No database stores U+D800 alone: refused as the field's error, not a 500 when it is saved."""
    register("dummy", "examples.dummy.model.DummyModel")
    config = '<View><Text name="text" value="$text"/>é\ud800</View>'
    body = json.dumps({field: config, **extra})  # json escapes the surrogate as \ud800
    response = client.post(f"/ml/dummy/{endpoint}", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["fields"][field] == ["Surrogate characters are not allowed: U+D800."]
