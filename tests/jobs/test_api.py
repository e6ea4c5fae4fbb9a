"""REST for pre-annotation jobs: behind admin-issued API tokens, in the error shape, in the schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from api.tokens import api_token_issue
from jobs.models import PreannotationFailure, PreannotationJob
from tests.api.conftest import client_with
from tests.conftest import WorkerFactory, register, wait_for
from tests.jobs.label_studio_stand_in import TOKEN, StandIn, label_studio_stand_in


@pytest.fixture
def ls() -> Iterator[StandIn]:
    with label_studio_stand_in() as stand_in:
        yield stand_in


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser("ops", "ops@example.com", "pw")


def token(staff: User, scope: str = "write") -> APIClient:
    return client_with(api_token_issue(user=staff, name="t", scope=scope, actor="user:test").secret)


def body(ls: StandIn, **extra: Any) -> dict[str, Any]:
    return {
        "model": "text-classifier",
        "project": ls.project_id,
        "label_studio_url": ls.url,
        "api_key": TOKEN,
        **extra,
    }


@pytest.fixture
def classifier(db: None) -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")


def test_post_answers_202_with_the_job_and_get_follows_it(ls: StandIn, staff: User, classifier: None) -> None:
    answer = token(staff).post("/api/preannotations", body(ls, task_ids=[3, 1], mode="redo"), format="json")
    assert answer.status_code == 202, answer.json()
    job = answer.json()
    assert (job["model"], job["project"], job["status"], job["selection"], job["task_ids"], job["mode"]) == (
        "text-classifier",
        ls.project_id,
        "queued",
        "ids",
        [1, 3],
        "redo",
    )
    assert job["model_version"] == "text-classifier@1" and "api_key" not in job
    assert PreannotationJob.objects.get(pk=job["id"]).created_by.startswith("user:ops (API token ")
    read = token(staff, "read").get(f"/api/preannotations/{job['id']}")
    assert read.status_code == 200 and read.json()["id"] == job["id"]
    missing = token(staff, "read").get("/api/preannotations/999999")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_the_api_needs_an_admin_issued_token_whatever_the_models_access(
    ls: StandIn, staff: User, classifier: None
) -> None:
    assert client_with(None).post("/api/preannotations", body(ls), format="json").status_code == 401
    assert client_with("bHM6cHc=", "Basic").get("/api/preannotations/1").status_code == 401
    read_only = token(staff, "read").post("/api/preannotations", body(ls), format="json")
    assert read_only.status_code == 403 and read_only.json()["code"] == "read_only_token"
    assert not PreannotationJob.objects.exists()


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"project": None}, 400, "invalid"),
        ({"mode": "sometimes"}, 400, "invalid"),
        ({"task_ids": [1], "view_id": 2}, 400, "preannotation_refused"),
        ({"label_studio_url": "file:///etc"}, 400, "preannotation_refused"),
        ({"model": "nope"}, 404, "not_found"),
        ({"api_key": "wrong"}, 502, "upstream_bad_answer"),
        ({"project": 8}, 502, "upstream_bad_answer"),
    ],
)
def test_bad_requests_get_a_clear_error_and_create_nothing(
    ls: StandIn, staff: User, classifier: None, change: dict[str, Any], status: int, code: str
) -> None:
    answer = token(staff).post("/api/preannotations", {**body(ls), **change}, format="json")
    assert answer.status_code == status, answer.json()
    assert answer.json()["code"] == code and answer.json()["error"]
    assert not PreannotationJob.objects.exists()


def test_pause_resume_cancel_and_retry(ls: StandIn, staff: User, classifier: None) -> None:
    client = token(staff)
    job_id = client.post("/api/preannotations", body(ls), format="json").json()["id"]
    paused = client.post(f"/api/preannotations/{job_id}/pause")
    assert (paused.status_code, paused.json()["status"]) == (200, "paused")
    resumed = client.post(f"/api/preannotations/{job_id}/resume")
    assert (resumed.status_code, resumed.json()["status"]) == (202, "queued")
    cancelled = client.post(f"/api/preannotations/{job_id}/cancel")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    again = client.post(f"/api/preannotations/{job_id}/resume")
    assert again.status_code == 409 and again.json()["code"] == "job_state_conflict"
    assert client.post(f"/api/preannotations/{job_id}/retry").status_code == 409
    PreannotationFailure.objects.create(job_id=job_id, ls_task_id=4, reason="model error")
    retry = client.post(f"/api/preannotations/{job_id}/retry")
    assert retry.status_code == 202 and (retry.json()["task_ids"], retry.json()["retry_of"]) == ([4], job_id)
    assert token(staff, "read").post(f"/api/preannotations/{job_id}/cancel").status_code == 403


def test_the_endpoints_are_in_the_openapi_schema(client: Any) -> None:
    schema = client.get("/api/schema/").content.decode()
    for path in (
        "/api/preannotations:",
        "/api/preannotations/{job_id}:",
        "/api/preannotations/{job_id}/cancel:",
    ):
        assert path in schema
    for operation in (
        "preannotation_start",
        "preannotation_pause",
        "preannotation_resume",
        "preannotation_retry",
    ):
        assert f"operationId: {operation}" in schema


@pytest.mark.django_db(transaction=True)
def test_a_job_posted_through_the_api_runs_on_the_worker(celery_workers: WorkerFactory) -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    staff = User.objects.create_superuser("ops", "ops@example.com", "pw")
    celery_workers.start()
    with label_studio_stand_in() as ls:
        ids = ls.add_tasks(20)
        job_id = token(staff).post("/api/preannotations", body(ls), format="json").json()["id"]
        done = wait_for(
            lambda: (
                (s := token(staff, "read").get(f"/api/preannotations/{job_id}").json())["status"]
                == "succeeded"
                and s
            ),
            timeout=120,
            what="the job to succeed",
        )
        assert (done["done"], done["fraction"], done["failures"]) == (20, 1.0, [])
        assert all(len(ls.predictions_of(t, "text-classifier@1")) == 1 for t in ids)
