"""Bodies that would give a 500 without care: one over the size limit, JSON nested deeper than a parser can
follow, and a lone surrogate in a body the Hub stores. Each is a 4xx in the error shape, on the
Django client and on a live gunicorn, and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from registry.models import WebhookEvent
from tests.conftest import LiveProtocolClient, ProtocolClient, register
from tests.live import LiveHub

pytestmark = pytest.mark.django_db(transaction=True)

POST_ENDPOINTS = ["predict", "setup", "webhook", "train", "job_status"]
DEFAULT_BODY_LIMIT = 50 * 1024 * 1024  # HUB_MAX_BODY_BYTES unless set (hubsite/settings.py)


@pytest.fixture
def dummy(protocol: ProtocolClient) -> None:
    register("dummy", "examples.dummy.model.DummyModel")


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_a_body_over_the_limit_is_413_in_the_error_shape(
    protocol: ProtocolClient, dummy: None, endpoint: str
) -> None:
    # 10 MB over the documented default, whatever the settings module says: a limit set to None (or
    # raised) there would let it through.
    padding = "x" * (DEFAULT_BODY_LIMIT + 10 * 1024 * 1024)
    answer = protocol.post(f"/ml/dummy/{endpoint}", raw=json.dumps({"action": "A", "pad": padding}))
    assert answer.status == 413
    assert answer.body["code"] == "request_too_large" and "HUB_MAX_BODY_BYTES" in answer.body["error"]


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_json_nested_5000_deep_is_400(protocol: ProtocolClient, dummy: None, endpoint: str) -> None:
    deep = "[" * 5000 + "]" * 5000
    answer = protocol.post(f"/ml/dummy/{endpoint}", raw=f'{{"action": "ANNOTATION_CREATED", "x": {deep}}}')
    assert answer.status == 400
    assert answer.body["code"] == "parse_error" and "nested too deeply" in answer.body["error"]


@pytest.mark.parametrize("depth", [100, 900])
@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_json_nested_as_deep_as_the_parser_follows_is_never_a_500(
    protocol: ProtocolClient, dummy: None, endpoint: str, depth: int
) -> None:
    deep = "[" * depth + "]" * depth
    bodies: dict[str, dict[str, Any]] = {
        "predict": {"tasks": [{"id": 1, "data": {"text": "x", "deep": "@"}}]},
        "setup": {"project": "1.1700000000", "extra_params": "@"},
        "webhook": {"action": "ANNOTATION_CREATED", "annotation": {"result": "@"}},
        "train": {"annotations": ["@"]},
        "job_status": {"job": "1", "x": "@"},
    }
    answer = protocol.post(f"/ml/dummy/{endpoint}", raw=json.dumps(bodies[endpoint]).replace('"@"', deep))
    assert answer.status < 500, answer.body
    if endpoint in ("webhook", "train"):  # stored bodies: refused, not stored
        assert answer.status == 400 and "nested more than" in answer.body["error"]
        assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            '{"action": "ANNOTATION_CREATED", "annotation": {"result": [{"text": "a\\ud800b"}]}}',
            id="in-a-value",
        ),
        pytest.param('{"action": "ANNOTATION_CREATED", "annotation": {"\\udfff": 1}}', id="in-a-key"),
    ],
)
def test_a_stored_body_with_a_lone_surrogate_is_400(protocol: ProtocolClient, dummy: None, raw: str) -> None:
    answer = protocol.post("/ml/dummy/webhook", raw=raw)
    assert answer.status == 400 and answer.body["code"] == "invalid"
    assert "lone surrogate" in answer.body["error"]
    assert not WebhookEvent.objects.exists()


def test_none_of_it_leaves_a_traceback_in_the_servers_log(live_hub: LiveHub) -> None:
    protocol = LiveProtocolClient(live_hub.url)
    register("dummy", "examples.dummy.model.DummyModel")
    start = live_hub.log.stat().st_size
    answers = [
        protocol.post("/ml/dummy/predict", raw=json.dumps({"pad": "x" * (DEFAULT_BODY_LIMIT + 1)})),
        protocol.post("/ml/dummy/predict", raw="[" * 5000 + "]" * 5000),
        protocol.post("/ml/dummy/webhook", raw='{"action": "ANNOTATION_CREATED", "a": "\\ud800"}'),
    ]
    # Each was refused by the Hub's own checks (a 404 or a 500 would leave no traceback either).
    assert [answer.status for answer in answers] == [413, 400, 400]
    with live_hub.log.open() as log:
        log.seek(start)
        assert "Traceback" not in log.read()
