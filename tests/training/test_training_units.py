"""The training bookkeeping without a worker: the dataset from events, coalescing, reaping, cancelling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from registry.models import Annotation, LabelStudioInstance, ModelProject, Project, TrainingJob, WebhookEvent
from tests.conftest import register
from training.annotations import events_apply
from training.tasks import jobs_reap, training_job_run, training_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def link() -> ModelProject:
    model = register("dummy", "examples.dummy.model.DummyModel")
    project = Project.objects.create(
        instance=LabelStudioInstance.objects.create(hostname="http://ls"), ls_project_id=1
    )
    return ModelProject.objects.create(model=model, project=project)


def store(link: ModelProject, action: str, payload: dict[str, Any], n: int) -> None:
    WebhookEvent.objects.create(
        model=link.model, project=link.project, action=action, payload=payload, payload_sha256=str(n)
    )


def annotation(annotation_id: int, label: str) -> dict[str, Any]:
    return {"id": annotation_id, "task": 10 + annotation_id, "result": [{"value": {"choices": [label]}}]}


def test_events_become_the_projects_annotations_in_order(link: ModelProject) -> None:
    store(
        link,
        "ANNOTATION_CREATED",
        {"annotation": annotation(1, "A"), "task": {"id": 11, "data": {"text": "one"}}},
        1,
    )
    store(
        link,
        "ANNOTATIONS_CREATED",
        {
            "annotation": [annotation(2, "B"), annotation(3, "C")],
            "task": [{"id": 12, "data": {"text": "two"}}, {"id": 13, "data": {"text": "three"}}],
        },
        2,
    )
    store(
        link,
        "ANNOTATION_UPDATED",
        {"annotation": annotation(1, "Z"), "task": {"id": 11, "data": {"text": "one"}}},
        3,
    )
    store(link, "ANNOTATIONS_DELETED", {"annotations": [{"id": 3}]}, 4)
    applied = events_apply(link)
    assert [e.action for e in applied][-1] == "ANNOTATIONS_DELETED" and len(applied) == 4
    rows = {
        a.ls_annotation_id: (a.ls_task_id, a.task_data["text"], a.result[0]["value"]["choices"][0])
        for a in Annotation.objects.all()
    }
    assert rows == {1: (11, "one", "Z"), 2: (12, "two", "B")}
    assert not WebhookEvent.objects.filter(processed_at__isnull=True).exists()
    assert events_apply(link) == []  # processed once


def test_events_coalesce_into_one_queued_job_and_a_running_one_gets_one_rerun(link: ModelProject) -> None:
    jobs = {training_request(link=link).pk for _ in range(5)}
    assert len(jobs) == 1 and TrainingJob.objects.get().events == 5
    TrainingJob.objects.update(status="running", started_at=timezone.now(), heartbeat_at=timezone.now())
    for _ in range(3):
        training_request(link=link)
    job = TrainingJob.objects.get()
    assert (job.rerun_requested, job.events, TrainingJob.objects.count()) == (True, 8, 1)


def test_an_event_asks_for_a_run_after_the_debounce_and_a_worker_given_it_early_waits(
    link: ModelProject, settings: Any
) -> None:
    settings.HUB_TRAINING_DEBOUNCE_SECONDS = 30
    before = timezone.now()
    job = training_request(link=link)
    assert job.not_before is not None and job.not_before >= before + timedelta(seconds=30)
    # A worker handed the job before its time (a redelivery, an early message) leaves it queued.
    assert training_job_run(job.pk, worker="early") == ""
    job.refresh_from_db()
    assert (job.status, job.started_at, job.worker) == ("queued", None, "")
    # Once the time has come, the same call runs it.
    TrainingJob.objects.filter(pk=job.pk).update(not_before=timezone.now() - timedelta(seconds=1))
    assert training_job_run(job.pk, worker="on-time") == "succeeded"


def test_the_reaper_fails_silent_running_jobs_and_queues_their_run_again(
    link: ModelProject, settings: Any
) -> None:
    settings.HUB_JOB_STALE_SECONDS = 5
    old = timezone.now() - timedelta(seconds=60)
    dead = TrainingJob.objects.create(
        model_project=link, status="running", started_at=old, heartbeat_at=old, worker="w1"
    )
    assert jobs_reap() == 1
    dead.refresh_from_db()
    assert dead.status == "failed" and "w1" in dead.error
    assert TrainingJob.objects.filter(status="queued", model_project=link).count() == 1
    assert jobs_reap() == 0


def test_the_admin_cancels_a_queued_job_and_shows_jobs_by_status(
    link: ModelProject, admin_client: Client
) -> None:
    job = training_request(link=link)
    response = admin_client.post(
        "/admin/registry/trainingjob/", {"action": "cancel_jobs", "_selected_action": [job.pk]}, follow=True
    )
    assert f"Job {job.pk}: cancelling" in " ".join(str(m) for m in response.context["messages"])
    assert TrainingJob.objects.get(pk=job.pk).status == "cancelled"
    queued = training_request(link=link)
    for status, listed in [("cancelled", job), ("queued", queued)]:
        response = admin_client.get(f"/admin/registry/trainingjob/?status__exact={status}")
        assert response.status_code == 200
        assert [row.pk for row in response.context["cl"].result_list] == [listed.pk], status
    page = admin_client.get(f"/admin/registry/trainingjob/{job.pk}/change/")
    assert page.status_code == 200 and "Cancelled" in page.content.decode()


def test_trained_versions_are_numbered_per_model_across_projects(link: ModelProject) -> None:
    from training.versions import version_keep

    other = ModelProject.objects.create(
        model=link.model, project=Project.objects.create(instance=link.project.instance, ls_project_id=2)
    )
    job = TrainingJob.objects.create(model_project=link)
    assert [version_keep(link, job, {}), version_keep(other, job, {}), version_keep(link, job, {})] == [
        1,
        2,
        3,
    ]
    link.refresh_from_db()
    other.refresh_from_db()
    assert (link.model_version, other.model_version) == ("dummy@1.3", "dummy@1.2")
