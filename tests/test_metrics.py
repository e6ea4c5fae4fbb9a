"""The gateway's Prometheus metrics: what each protocol request adds, summed over gunicorn workers."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from registry.models import LabelStudioInstance, ModelProject, Project, TrainingJob
from tests.conftest import CFG, ECHO_CFG, register, wait_for
from tests.live import LiveHub

pytestmark = pytest.mark.django_db(transaction=True)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition (0 if absent, as Prometheus would see it)."""
    for family in text_string_to_metric_families(text):
        for item in family.samples:
            if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                return float(item.value)
    return 0.0


def scrape(client: Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def post(client: Client, path: str, body: dict[str, Any]) -> int:
    return client.post(path, json.dumps(body), content_type="application/json").status_code


def test_requests_errors_latency_and_cache_hits_are_counted(client: Client) -> None:
    register("dummy", "examples.dummy.model.DummyModel")
    register("off", "examples.dummy.model.DummyModel", enabled=False)
    before = scrape(client)
    body = {"tasks": [{"id": 1, "data": {"text": "hi"}}], "project": "1.1700000000", "label_config": CFG}

    assert post(client, "/ml/dummy/predict", body) == 200
    assert post(client, "/ml/dummy/predict", body) == 200  # the same task: from the cache
    assert post(client, "/ml/off/predict", body) == 503
    assert client.get("/ml/no-such-model/health").status_code == 404
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("hub_requests_total", model="dummy", endpoint="predict", status="200") == 2
    assert delta("hub_request_duration_seconds_count", model="dummy", endpoint="predict") == 2
    assert delta("hub_request_errors_total", model="off", endpoint="predict", code="model_disabled") == 1
    assert delta("hub_requests_total", model="unknown", endpoint="health", status="404") == 1
    assert sample(after, "hub_requests_total", model="no-such-model") == 0  # no series per made-up slug
    assert delta("hub_prediction_cache_total", model="dummy", result="miss") == 1
    assert delta("hub_prediction_cache_total", model="dummy", result="hit") == 1


def test_the_job_queue_depth_is_read_at_scrape_time(client: Client) -> None:
    model = register("dummy", "examples.dummy.model.DummyModel")
    instance = LabelStudioInstance.objects.create(hostname="")
    project = Project.objects.create(instance=instance, ls_project_id=1, created_ts=1)
    link = ModelProject.objects.create(model=model, project=project)
    TrainingJob.objects.create(model_project=link, status=TrainingJob.Status.QUEUED)

    text = scrape(client)

    assert sample(text, "hub_job_queue_depth", status="queued") == 1
    assert sample(text, "hub_job_queue_depth", status="running") == 0


def test_a_token_guards_the_metrics_when_set(client: Client, settings: Any) -> None:
    settings.HUB_METRICS_TOKEN = "scrape-secret"
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["code"] == "not_authenticated"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
    # With a token, a client elsewhere may scrape; with another token, or another scheme, nobody may.
    remote = Client(REMOTE_ADDR="203.0.113.5")
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
    for wrong in ("Bearer scrape-secreT", "Bearer scrape-secret-and-more", "Basic scrape-secret"):
        for someone in (client, remote):
            assert someone.get("/metrics", HTTP_AUTHORIZATION=wrong).status_code == 401, wrong


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_without_a_token_the_metrics_answer_only_this_machine(client: Client, address: str) -> None:
    register("secret-project-model", "examples.dummy.model.DummyModel")
    assert Client(REMOTE_ADDR=address).get("/metrics").status_code == 200
    for outside in ("203.0.113.5", "10.0.0.7"):
        refused = Client(REMOTE_ADDR=outside).get("/metrics")
        assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
        assert "HUB_METRICS_TOKEN" in refused.json()["error"]
        assert b"secret-project-model" not in refused.content
    # A client cannot claim to be local, and one forwarded by a proxy in front is not.
    forged = Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert forged.get("/metrics").status_code == 403


def test_behind_a_proxy_the_forwarded_client_is_what_counts(client: Client, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxied = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert proxied.get("/metrics").status_code == 403
    settings.HUB_METRICS_TOKEN = "scrape-secret"
    assert proxied.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


def test_every_gunicorn_worker_is_counted_and_in_flight_requests_are_seen(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    register("slow", "tests.models.protocol.SlowPredictModel", prediction_cache=False)

    def text() -> str:
        return requests.get(f"{live_hub.url}/metrics", timeout=10).text

    before = sample(text(), "hub_requests_total", model="slow", endpoint="health", status="200")
    for _ in range(20):  # spread over both workers by the kernel's accept queue
        assert requests.get(f"{live_hub.url}/ml/slow/health", timeout=10).status_code == 200
    assert sample(text(), "hub_requests_total", model="slow", endpoint="health", status="200") - before == 20

    # The /predict lasts until the test has seen it in flight (120 s at most), however slow the machine.
    release = tmp_path / "release"
    params = {"seconds": 120, "until": str(release)}
    body = {"tasks": [{"id": 1}], "label_config": ECHO_CFG, "params": params}
    slow_call = threading.Thread(
        target=requests.post, args=(f"{live_hub.url}/ml/slow/predict",), kwargs={"json": body, "timeout": 150}
    )
    slow_call.start()
    try:
        wait_for(
            lambda: sample(text(), "hub_requests_in_flight", model="slow", endpoint="predict") == 1,
            timeout=60,
            what="the slow /predict in flight",
        )
    finally:
        release.touch()
        slow_call.join()
    wait_for(
        lambda: sample(text(), "hub_requests_in_flight", model="slow", endpoint="predict") == 0,
        timeout=60,
        what="the finished /predict out of flight",
    )
