"""A model's answers follow its state in each project: a prediction cached in one project never
answers another, and a finished ``fit`` (or any state write) is seen by the next prediction, from
the prediction cache and from the per-worker instance alike. Training runs on a real Celery worker."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from inference.kinds.python.loading import DatabaseStateStore
from registry.hot_path import state_stamp
from registry.models import ModelProject, TrainingJob
from tests.conftest import ECHO_CFG, WorkerFactory, register, wait_for
from tests.models.simplest import SimplestBackend

pytestmark = pytest.mark.django_db(transaction=True)

# created_at 2023-11-14T22:13:20Z is the timestamp 1700000000 of the uids below.
PROJECTS = {1: "1.1700000000", 2: "2.1700000000"}
TASK = {"id": 7, "data": {"text": "the same task in both projects"}}


@pytest.fixture(autouse=True)
def fresh_counts() -> None:
    SimplestBackend.predicted = 0


def answer(project: int) -> str:
    body = {"tasks": [TASK], "project": PROJECTS[project], "label_config": ECHO_CFG}
    response = Client().post("/ml/simplest/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    text: str = response.json()["results"][0]["result"][0]["value"]["text"][0]
    return text


def train(project: int, action: str = "ANNOTATION_CREATED") -> None:
    """Send Label Studio's event for the project and wait for the worker's fit to finish."""
    event: dict[str, Any] = {
        "action": action,
        "project": {"id": project, "label_config": ECHO_CFG, "created_at": "2023-11-14T22:13:20Z"},
    }
    if action == "ANNOTATION_CREATED":
        event["annotation"] = {"id": 100 + project, "task": TASK["id"], "result": []}
        event["task"] = {**TASK, "project": project}
    response = Client().post("/ml/simplest/webhook", json.dumps(event), content_type="application/json")
    assert response.status_code == 201, response.content
    job_id = response.json()["job"]
    wait_for(
        lambda: TrainingJob.objects.filter(pk=job_id, status="succeeded").exists(),
        timeout=90,
        what=f"the fit in project {project}",
    )


def test_a_prediction_cached_in_a_trained_project_never_answers_an_untrained_one(
    celery_workers: WorkerFactory,
) -> None:
    register("simplest", "tests.models.simplest.SimplestBackend")
    celery_workers.start()
    train(1)

    assert answer(1) == "learnt from 1 annotation(s)"
    assert answer(2) == "untrained"
    assert answer(1) == "learnt from 1 annotation(s)"  # each project's answer is cached apart
    assert SimplestBackend.predicted == 2


def test_a_fit_that_only_writes_state_is_seen_by_the_next_prediction(celery_workers: WorkerFactory) -> None:
    register("simplest", "tests.models.simplest.SimplestBackend")
    assert answer(1) == "untrained"
    assert answer(1) == "untrained" and SimplestBackend.predicted == 1  # cached

    celery_workers.start()
    train(1)

    assert answer(1) == "learnt from 1 annotation(s)"
    assert ModelProject.objects.get().active_version == 0  # fit returned nothing: no new version


def test_a_model_built_before_its_fit_is_built_again(celery_workers: WorkerFactory) -> None:
    """With the prediction cache off, only a new instance can know what fit wrote."""
    register("simplest", "tests.models.simplest.SimplestBackend", prediction_cache=False)
    assert answer(1) == "untrained"

    celery_workers.start()
    train(1)

    assert answer(1) == "learnt from 1 annotation(s)"


def test_a_finished_fit_that_wrote_nothing_still_asks_the_model_again(celery_workers: WorkerFactory) -> None:
    """fit may learn into files or memory the Hub cannot see: its end is a change of state."""
    register("simplest", "tests.models.simplest.SimplestBackend")
    answer(1)
    answer(1)
    assert SimplestBackend.predicted == 1

    celery_workers.start()
    train(1, action="START_TRAINING")  # no annotations: fit writes nothing

    assert answer(1) == "untrained"
    assert SimplestBackend.predicted == 2


def test_writing_the_value_already_stored_keeps_the_state_stamp() -> None:
    """Models that set their version in every setup must not lose their cache to it."""
    register("simplest", "tests.models.simplest.SimplestBackend")
    answer(1)
    store = DatabaseStateStore(ModelProject.objects.get().pk)
    store.set("model_version", "0.0.1")
    stamp = state_stamp(ModelProject.objects.get().pk)

    store.set("model_version", "0.0.1")
    assert state_stamp(ModelProject.objects.get().pk) == stamp
    store.set("model_version", "0.0.2")
    assert state_stamp(ModelProject.objects.get().pk) != stamp
