"""The pre-annotation jobs of the REST API beside the registry's: listed, filtered and paginated as the
other lists, and every change to a job in the audit log under the token's user, as the admin's are."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from jobs.models import PreannotationFailure, PreannotationJob
from registry.models import AuditEvent
from tests.api.conftest import client_with
from tests.api.fixtures import World
from tests.jobs.label_studio_stand_in import TOKEN, StandIn, label_studio_stand_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def ls() -> Iterator[StandIn]:
    with label_studio_stand_in() as stand_in:
        yield stand_in


def _job(world: World, **fields: Any) -> PreannotationJob:
    return PreannotationJob.objects.create(model_project=world.link, model_version="detector@1", **fields)


def test_jobs_are_listed_newest_first_filtered_and_paginated(
    world: World, token_for: Callable[..., str]
) -> None:
    world.preannotation.delete()
    done = _job(world, status=PreannotationJob.Status.SUCCEEDED)
    running = _job(world, status=PreannotationJob.Status.RUNNING)
    queued = _job(world)
    reader = client_with(token_for("read"))

    everything = reader.get("/api/preannotations").json()
    assert everything["count"] == 3
    assert [job["id"] for job in everything["results"]] == [queued.pk, running.pk, done.pk]
    assert everything["results"][0]["model"] == "detector" and everything["results"][0]["project"] == 42

    assert [j["id"] for j in reader.get("/api/preannotations?status=running").json()["results"]] == [
        running.pk
    ]
    assert reader.get("/api/preannotations?model=dummy").json()["count"] == 0
    assert reader.get("/api/preannotations?project=42&model=detector").json()["count"] == 3
    assert reader.get("/api/preannotations?project=43").json()["count"] == 0
    page = reader.get("/api/preannotations?page=2&page_size=2").json()
    assert ([j["id"] for j in page["results"]], page["next"]) == ([done.pk], None)
    bad = reader.get("/api/preannotations?status=sometimes")
    assert (bad.status_code, bad.json()["code"], list(bad.json()["fields"])) == (400, "invalid", ["status"])
    assert reader.get("/api/preannotations?page=9").status_code == 404


def test_every_change_to_a_job_is_audited_under_the_tokens_user(
    world: World, token_for: Callable[..., str]
) -> None:
    writer = client_with(token_for("write"))
    job = _job(world)
    assert writer.post(f"/api/preannotations/{job.pk}/pause").status_code == 200
    assert writer.post(f"/api/preannotations/{job.pk}/resume").status_code == 202
    assert writer.post(f"/api/preannotations/{job.pk}/cancel").status_code == 200
    PreannotationFailure.objects.create(job=job, ls_task_id=4, reason="model error")
    retry = writer.post(f"/api/preannotations/{job.pk}/retry").json()["id"]

    events = AuditEvent.objects.filter(object_type="jobs.preannotationjob").order_by("pk")
    assert [(e.action, e.object_id) for e in events] == [
        ("pause_preannotation", str(job.pk)),
        ("resume_preannotation", str(job.pk)),
        ("cancel_preannotation", str(job.pk)),
        ("retry_preannotation", str(retry)),
    ]
    assert all(e.actor.startswith("user:alice (API token ") for e in events)
    assert events[2].changes == {"model": "detector", "status": "cancelled"}


def test_starting_a_job_is_audited(ls: StandIn, world: World, token_for: Callable[..., str]) -> None:
    from tests.conftest import register

    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    body = {
        "model": "text-classifier",
        "project": ls.project_id,
        "label_studio_url": ls.url,
        "api_key": TOKEN,
    }
    answer = client_with(token_for("write")).post("/api/preannotations", body, format="json")
    assert answer.status_code == 202, answer.json()
    event = AuditEvent.objects.get(action="start_preannotation")
    assert (event.object_id, event.changes["model"]) == (str(answer.json()["id"]), "text-classifier")
    assert event.actor.startswith("user:alice (API token ")
    assert TOKEN not in str(event.changes)


def test_the_admins_buttons_are_audited_under_the_signed_in_user(world: World, admin_client: Client) -> None:
    job = _job(world)
    answer = admin_client.post(f"/admin/jobs/preannotationjob/{job.pk}/do/pause/")
    assert answer.status_code == 302
    event = AuditEvent.objects.get(object_type="jobs.preannotationjob")
    assert (event.action, event.actor) == ("pause_preannotation", "user:admin")
