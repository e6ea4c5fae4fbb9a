"""The SDK guide's classic loop on a real Celery worker: annotate, fit(completions, workdir) writes a
checkpoint, later instances load it through self.train_output, a retrain makes a new one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from inference.kinds.python.loading import _instances
from registry.models import ModelVersion, TrainingJob
from tests.conftest import WorkerFactory, register, wait_for
from tests.training.test_training import HELD_OUT, TOPICS, TRAIN, annotation_event
from training.tasks import training_job_run

pytestmark = pytest.mark.django_db(transaction=True)
SLUG = "classic"
UID = "9.1700000000"


def post(client: Client, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post(path, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def labels_of(client: Client) -> tuple[list[str | None], set[str]]:
    tasks = [{"id": i, "data": {"text": text}} for i, (text, _) in enumerate(HELD_OUT)]
    status, body = post(
        client, f"/ml/{SLUG}/predict", {"tasks": tasks, "project": UID, "label_config": TOPICS}
    )
    assert status == 200, body
    labels = [
        (r["result"] or [{"value": {"choices": [None]}}])[0]["value"]["choices"][0] for r in body["results"]
    ]
    return labels, {r["model_version"] for r in body["results"]}


def test_fit_completions_workdir_and_train_output_through_a_worker(
    client: Client, celery_workers: WorkerFactory
) -> None:
    register(SLUG, "examples.classic_text_classifier.model.ClassicTextClassifier")
    assert post(client, f"/ml/{SLUG}/setup", {"project": UID, "schema": TOPICS})[1] == {
        "model_version": f"{SLUG}@1"
    }
    labels, versions = labels_of(client)
    assert labels == [None] * len(HELD_OUT) and versions == {f"{SLUG}@1"}  # untrained: nothing to say

    celery_workers.start()
    # Only the sports half first: the model can only say Sports.
    sports = [(text, label) for text, label in TRAIN if label == "Sports"]
    for n, (text, label) in enumerate(sports):
        assert post(client, f"/ml/{SLUG}/webhook", annotation_event(n, text, label))[0] == 201
    first = wait_for(
        lambda: ModelVersion.objects.filter(model_project__model__slug=SLUG).order_by("number").first(),
        what="the first trained version",
    )
    checkpoint = Path(first.metrics["checkpoint"])
    assert checkpoint.is_file() and checkpoint.name == "model.json"
    assert checkpoint.parent.is_relative_to(settings.DATA_DIR / "training" / SLUG)
    assert first.metrics["labels"] == ["Sports"]
    wait_for(
        lambda: not TrainingJob.objects.filter(status__in=["queued", "running"]).exists(), what="the runs"
    )
    _instances.clear()  # this process builds afresh: the checkpoint is read back through train_output
    labels, versions = labels_of(client)
    latest = ModelVersion.objects.filter(model_project__model__slug=SLUG).order_by("-number").first()
    assert latest is not None
    assert set(labels) == {"Sports"} and versions == {f"{SLUG}@1.{latest.number}"}

    # Retrain with both classes: a new version, a new checkpoint folder, and the held-out texts sorted out.
    for n, (text, label) in enumerate(TRAIN, start=100):
        post(client, f"/ml/{SLUG}/webhook", annotation_event(n, text, label))
    wait_for(
        lambda: ModelVersion.objects.filter(
            model_project__model__slug=SLUG, metrics__labels=["Politics", "Sports"]
        ).exists(),
        what="a version trained on both classes",
    )
    wait_for(
        lambda: not TrainingJob.objects.filter(status__in=["queued", "running"]).exists(), what="the runs"
    )
    newest = ModelVersion.objects.filter(model_project__model__slug=SLUG).order_by("-number").first()
    assert newest is not None and newest.metrics["examples"] == len(sports) + len(TRAIN)
    assert Path(newest.metrics["checkpoint"]).parent != checkpoint.parent and checkpoint.is_file()
    labels, versions = labels_of(client)
    hits = sum(p == label for p, (_, label) in zip(labels, HELD_OUT, strict=True))
    assert hits >= 8 and versions == {f"{SLUG}@1.{newest.number}"}
    assert not TrainingJob.objects.exclude(status="succeeded").exists()


def test_a_versions_workdir_in_object_storage_reaches_a_host_that_never_had_it(
    client: Client, settings: Any, tmp_path: Path
) -> None:
    """With a training storage, a process whose data directory lacks the folder fit wrote (another
    host) fetches it before building the model, so the checkpoint in train_output opens there too."""
    bucket = tmp_path / "bucket"
    settings.STORAGES = {
        **settings.STORAGES,
        "training": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(bucket)},
        },
    }
    register(SLUG, "examples.classic_text_classifier.model.ClassicTextClassifier")
    for n, (text, label) in enumerate(TRAIN):
        assert post(client, f"/ml/{SLUG}/webhook", annotation_event(n, text, label))[0] == 201
    for job in TrainingJob.objects.filter(status="queued"):
        TrainingJob.objects.filter(pk=job.pk).update(not_before=None)
        assert training_job_run(job.pk) == "succeeded"
    checkpoint = Path(ModelVersion.objects.get().metrics["checkpoint"])
    stored = bucket / checkpoint.relative_to(settings.DATA_DIR)
    assert stored.read_bytes() == checkpoint.read_bytes()

    shutil.rmtree(checkpoint.parent)  # another host: the database and the storage, not this folder
    _instances.clear()
    labels, _ = labels_of(client)
    assert sum(p == label for p, (_, label) in zip(labels, HELD_OUT, strict=True)) >= 8
    assert checkpoint.read_bytes() == stored.read_bytes()
