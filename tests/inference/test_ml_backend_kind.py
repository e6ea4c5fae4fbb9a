"""A remote Label Studio ML backend fronted by the Hub (kind ``ml_backend``)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from registry.models import ModelProject, RegisteredModel, TrainingJob, WebhookEvent
from tests.conftest import CFG, QuietHandler, WorkerFactory, serving, wait_for
from training.tasks import training_request

pytestmark = pytest.mark.django_db(transaction=True)


class OldBackend(QuietHandler):
    """An SDK-style backend behind basic auth that answers each task with its text's length parity."""

    calls: list[tuple[str, dict[str, Any]]] = []
    refuse_webhooks = False

    def do_GET(self) -> None:
        self._answer({"status": "UP", "model_class": "OldBackend"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/webhook" and OldBackend.refuse_webhooks:
            self.reply(500)
            return
        OldBackend.calls.append((self.path, body))
        if self.path == "/webhook":
            self._answer({})
            return
        if self.path == "/setup":
            self._answer({"model_version": "remote-7"})
            return
        results = [
            {
                "result": [
                    {
                        "from_name": "sentiment",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": ["Positive" if len(t["data"]["text"]) % 2 else "Negative"]},
                    }
                ],
                "score": 0.5,
                "model_version": "remote-7",
            }
            for t in body["tasks"]
        ]
        self._answer({"results": results})

    def _answer(self, body: dict[str, Any]) -> None:
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"u:p").decode():
            self.reply(401)
            return
        self.reply(200, json.dumps(body).encode(), "application/json")


@pytest.fixture
def backend() -> Iterator[str]:
    OldBackend.calls, OldBackend.refuse_webhooks = [], False
    with serving(OldBackend) as url:
        yield url


def register_old_backend(url: str, **fields: Any) -> RegisteredModel:
    """The backend behind basic auth, registered with its credentials."""
    return RegisteredModel.objects.create(
        name="old",
        slug="old",
        kind="ml_backend",
        url=url,
        auth_method="basic",
        auth_username="u",
        auth_secret="p",
        **fields,
    )


def post(client: Client, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post(path, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_the_hub_fronts_an_old_backend_without_calling_it_from_health_or_setup(
    client: Client, backend: str
) -> None:
    # Without the prediction cache each /predict reaches the backend, so its calls can be counted.
    register_old_backend(backend, prediction_cache=False)
    assert client.get("/ml/old/health").json()["model_class"] == "RemoteMLBackend"
    assert post(
        client, "/ml/old/setup", {"project": "3.1700000000", "schema": CFG, "extra_params": {"k": 1}}
    ) == (
        200,
        {"model_version": "old@1"},
    )
    assert OldBackend.calls == []
    tasks = [{"id": 1, "data": {"text": "odd"}}, {"id": 2, "data": {"text": "even"}}]
    for _ in range(2):
        status, body = post(
            client, "/ml/old/predict", {"tasks": tasks, "project": "3.1700000000", "label_config": CFG}
        )
        assert status == 200
        assert [r["result"][0]["value"]["choices"] for r in body["results"]] == [["Positive"], ["Negative"]]
        assert {r["model_version"] for r in body["results"]} == {"old@1"}
    paths = [path for path, _ in OldBackend.calls]
    assert paths == [
        "/setup",
        "/predict",
        "/predict",
    ]  # the remote /setup once per worker, project and config
    setup_body = OldBackend.calls[0][1]
    assert (setup_body["project"], setup_body["schema"], setup_body["extra_params"]) == (
        "3.1700000000",
        CFG,
        '{"k": 1}',
    )


def test_a_refused_or_dead_backend_is_a_clear_upstream_error(client: Client, backend: str) -> None:
    RegisteredModel.objects.create(name="old", slug="old", kind="ml_backend", url=backend)  # no credentials
    status, body = post(
        client, "/ml/old/predict", {"tasks": [{"id": 1, "data": {"text": "x"}}], "label_config": CFG}
    )
    assert (status, body["code"]) == (502, "upstream_bad_answer")
    assert "401" in body["error"] and "authentication refused" in body["error"]
    RegisteredModel.objects.filter(slug="old").update(url="http://127.0.0.1:9")
    status, body = post(
        client, "/ml/old/predict", {"tasks": [{"id": 1, "data": {"text": "x"}}], "label_config": CFG}
    )
    assert (status, body["code"]) == (503, "upstream_unavailable")


class SilentBackend(QuietHandler):
    """Reads the request, then says nothing until the test is over."""

    release = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        SilentBackend.release.wait(60)


def test_a_backend_that_does_not_answer_in_time_is_a_504(client: Client) -> None:
    SilentBackend.release.clear()
    with serving(SilentBackend) as url:
        try:
            RegisteredModel.objects.create(
                name="old", slug="old", kind="ml_backend", url=url, timeout_seconds=1
            )
            status, body = post(
                client, "/ml/old/predict", {"tasks": [{"id": 1, "data": {"text": "x"}}], "label_config": CFG}
            )
        finally:
            SilentBackend.release.set()
    assert (status, body["code"]) == (504, "upstream_timeout"), body


def annotation_event(annotation_id: int) -> dict[str, Any]:
    return {
        "action": "ANNOTATION_CREATED",
        "annotation": {"id": annotation_id, "task": annotation_id, "result": []},
        "task": {"id": annotation_id, "data": {"text": "odd"}},
        "project": {"id": 3, "label_config": CFG, "created_at": "2023-11-14T22:13:20Z"},
    }


def test_events_reach_the_backends_own_webhook_in_order_and_once_each(
    client: Client, backend: str, celery_workers: WorkerFactory
) -> None:
    register_old_backend(backend)

    def sent() -> list[dict[str, Any]]:
        return [body for path, body in OldBackend.calls if path == "/webhook"]

    def job_ended(number: int) -> bool:
        return TrainingJob.objects.exclude(status__in=["queued", "running"]).count() == number

    OldBackend.refuse_webhooks = True
    for annotation_id in (1, 2):
        assert post(client, "/ml/old/webhook", annotation_event(annotation_id))[0] == 201
    celery_workers.start()
    wait_for(lambda: job_ended(1), what="the first run")
    failed = TrainingJob.objects.get()
    assert failed.status == "failed" and "HTTP 500" in failed.error  # the backend refused the first
    assert WebhookEvent.objects.filter(processed_at__isnull=True).count() == 2  # both still stored

    OldBackend.refuse_webhooks = False
    assert post(client, "/ml/old/webhook", annotation_event(3))[0] == 201
    wait_for(lambda: job_ended(2), what="the second run")
    assert [(b["action"], b["annotation"]["id"], b["project"]["id"]) for b in sent()] == [
        ("ANNOTATION_CREATED", 1, 3),
        ("ANNOTATION_CREATED", 2, 3),
        ("ANNOTATION_CREATED", 3, 3),
    ]
    assert not WebhookEvent.objects.filter(processed_at__isnull=True).exists()

    # The admin's "Start training" with nothing stored asks the backend to train on what it has.
    training_request(link=ModelProject.objects.get(), trigger=TrainingJob.Trigger.MANUAL, debounce=False)
    wait_for(lambda: job_ended(3), what="the manual run")
    assert sent()[3:] == [{"action": "START_TRAINING", "project": {"id": 3, "label_config": CFG}}]
    assert set(TrainingJob.objects.values_list("status", flat=True)) == {"failed", "succeeded"}
    assert not TrainingJob.objects.filter(resulting_version__isnull=False).exists()  # it keeps its own
