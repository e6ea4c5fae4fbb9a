"""A webhook whose project has no ``created_at`` reaches the project /setup made, not a new one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from registry.models import Project, TrainingJob, WebhookEvent
from tests.conftest import ECHO_CFG, register

pytestmark = pytest.mark.django_db


def post(slug: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    response = Client().post(f"/ml/{slug}/{endpoint}", json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201), response.content
    answer: dict[str, Any] = response.json()
    return answer


def setup(slug: str, uid: str, hostname: str) -> Project:
    post(slug, "setup", {"project": uid, "schema": ECHO_CFG, "hostname": hostname, "access_token": "t"})
    return Project.objects.get(instance__hostname=hostname, ls_project_id=int(uid.split(".")[0]))


def annotated(slug: str, project: dict[str, Any]) -> TrainingJob:
    """Label Studio's ANNOTATION_CREATED for task 5 of the project; the job it asked for."""
    body = post(
        slug,
        "webhook",
        {
            "action": "ANNOTATION_CREATED",
            "annotation": {"id": 50, "task": 5, "result": []},
            "task": {"id": 5, "data": {"text": "x"}},
            "project": project,
        },
    )
    assert WebhookEvent.objects.get(pk=body["event"]).project_id is not None
    return TrainingJob.objects.select_related("model_project").get(pk=body["job"])


def test_an_event_without_created_at_trains_the_project_setup_made() -> None:
    register("simplest", "tests.models.simplest.SimplestBackend")
    known = setup("simplest", "3.1700000000", "http://ls.example")

    job = annotated("simplest", {"id": 3, "label_config": ECHO_CFG})

    assert Project.objects.count() == 1
    assert job.model_project.project_id == known.pk
    assert WebhookEvent.objects.get().project_id == known.pk


def test_of_two_projects_with_that_id_the_one_the_model_serves_is_taken() -> None:
    register("first", "tests.models.simplest.SimplestBackend")
    register("second", "tests.models.simplest.SimplestBackend")
    register("third", "tests.models.simplest.SimplestBackend")
    served_by_first = setup("first", "3.1700000000", "http://a.example")
    seen_last = setup("second", "3.1800000000", "http://b.example")  # another Label Studio's project 3

    assert annotated("first", {"id": 3}).model_project.project_id == served_by_first.pk
    assert annotated("second", {"id": 3}).model_project.project_id == seen_last.pk
    # A model no /setup reached never takes another model's project (its callers could name any).
    third = annotated("third", {"id": 3}).model_project.project
    assert third.pk not in (served_by_first.pk, seen_last.pk) and third.instance.hostname == ""
