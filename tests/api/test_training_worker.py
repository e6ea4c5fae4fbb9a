"""Training started through the REST API runs on a real Celery worker; its status, then its version,
show through the API, and activating an older version changes what /setup reports."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from registry.models import ModelProject, TrainingJob
from tests.conftest import WorkerFactory, register, wait_for
from tests.training.test_training import TOPICS, TRAIN, annotation_event, post

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_training_started_through_the_api_runs_and_its_version_can_be_activated(
    client: Client, writer: APIClient, celery_workers: WorkerFactory
) -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    post(client, "/ml/text-classifier/setup", {"project": "9.1700000000", "schema": TOPICS})
    for n, (text, label) in enumerate(TRAIN[:6] + TRAIN[10:16]):
        post(client, "/ml/text-classifier/webhook", annotation_event(n, text, label))
    TrainingJob.objects.all().delete()  # the events' own job: this test starts its own
    project = ModelProject.objects.get().project_id
    celery_workers.start()
    first = writer.post(f"/api/models/text-classifier/projects/{project}/training").json()
    done = wait_for(
        lambda: (
            (job := writer.get(f"/api/training-jobs/{first['id']}").json())["status"] == "succeeded" and job
        ),
        what="the first training job",
    )
    assert done["resulting_version"] == 1 and done["progress"] == 1.0
    second = writer.post(f"/api/models/text-classifier/projects/{project}/training").json()
    wait_for(
        lambda: writer.get(f"/api/training-jobs/{second['id']}").json()["status"] == "succeeded",
        what="the second training job",
    )
    versions = writer.get("/api/models/text-classifier/versions").json()["results"]
    assert [(v["number"], v["active"]) for v in versions] == [(2, True), (1, False)]
    assert writer.post("/api/models/text-classifier/versions/1/activate").json()["active"] is True
    setup = post(client, "/ml/text-classifier/setup", {"project": "9.1700000000", "schema": TOPICS})[1]
    assert setup["model_version"] == "text-classifier@1.1"
