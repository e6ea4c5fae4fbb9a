"""Pre-annotation in the admin: the action on models in projects, the job page and its buttons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from jobs.models import PreannotationFailure, PreannotationJob
from jobs.worker import preannotation_job_run
from registry.models import LabelStudioInstance, ModelProject, Project
from tests.conftest import register
from tests.jobs.label_studio_stand_in import TOKEN, StandIn, label_studio_stand_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ls() -> Iterator[StandIn]:
    with label_studio_stand_in() as stand_in:
        yield stand_in


@pytest.fixture
def link(ls: StandIn) -> ModelProject:
    """The text classifier in the stand-in's project, as /setup and the admin leave them."""
    model = register("text-classifier", "examples.text_classifier.model.TextClassifier")
    instance = LabelStudioInstance.objects.create(hostname=ls.url, api_key=TOKEN)
    project = Project.objects.create(instance=instance, ls_project_id=ls.project_id, created_ts=1767323045)
    return ModelProject.objects.create(model=model, project=project)


def test_the_action_on_a_model_in_a_project_queues_a_job_and_links_to_its_page(
    admin_client: Client, ls: StandIn, link: ModelProject
) -> None:
    answer = admin_client.post(
        "/admin/registry/modelproject/",
        {"action": "preannotate_in_label_studio", "_selected_action": [link.pk]},
        follow=True,
    )
    [job] = PreannotationJob.objects.all()
    assert (job.model_project_id, job.status, job.selection, job.mode) == (
        link.pk,
        "queued",
        "all",
        "missing",
    )
    assert (
        f'<a href="/admin/jobs/preannotationjob/{job.pk}/change/">pre-annotation job {job.pk}</a> is queued'
        in (answer.content.decode())
    )


def test_the_action_reports_a_label_studio_that_refuses_the_key(
    admin_client: Client, ls: StandIn, link: ModelProject
) -> None:
    LabelStudioInstance.objects.filter(pk=link.project.instance_id).update(api_key="stale")
    answer = admin_client.post(
        "/admin/registry/modelproject/",
        {"action": "preannotate_in_label_studio", "_selected_action": [link.pk]},
        follow=True,
    )
    assert "answered HTTP 401 (authentication refused)" in answer.content.decode()
    assert not PreannotationJob.objects.exists()


def test_the_job_page_shows_live_progress_and_its_buttons_drive_the_job(
    admin_client: Client, ls: StandIn, link: ModelProject
) -> None:
    ls.add_tasks(25)
    admin_client.post(
        "/admin/registry/modelproject/",
        {"action": "preannotate_in_label_studio", "_selected_action": [link.pk]},
    )
    job = PreannotationJob.objects.get()
    page = admin_client.get(f"/admin/jobs/preannotationjob/{job.pk}/change/").content.decode()
    assert f'data-url="/admin/jobs/preannotationjob/{job.pk}/progress/"' in page
    for label in ("Pause", "Resume", "Cancel", "Retry failed"):
        assert f'value="{label}"' in page

    def act(action: str) -> str:
        answer = admin_client.post(f"/admin/jobs/preannotationjob/{job.pk}/do/{action}/", follow=True)
        return str(answer.content.decode())

    assert "it is paused" in act("pause")
    assert "only paused or failed jobs resume" not in act("resume")
    job.refresh_from_db()
    assert job.status == "queued"
    preannotation_job_run(job.pk, worker="test")
    state: dict[str, Any] = admin_client.get(f"/admin/jobs/preannotationjob/{job.pk}/progress/").json()
    assert (state["status"], state["total"], state["done"], state["fraction"]) == ("succeeded", 25, 25, 1.0)
    assert "has no failed tasks" in act("retry")
    assert "there is nothing to cancel" in act("cancel")
    PreannotationFailure.objects.create(job=job, ls_task_id=5, reason="media unreachable")
    assert "retries the failed tasks of job" in act("retry")
    retry = PreannotationJob.objects.get(retry_of=job)
    assert (retry.selection, retry.task_ids) == ("ids", [5])


def test_viewers_see_progress_but_only_editors_press_buttons(
    client: Client, ls: StandIn, link: ModelProject
) -> None:
    job = PreannotationJob.objects.create(model_project=link)
    viewer = User.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_preannotationjob"))
    client.force_login(viewer)
    assert client.get(f"/admin/jobs/preannotationjob/{job.pk}/progress/").json()["status"] == "queued"
    assert (
        'value="Cancel"' not in client.get(f"/admin/jobs/preannotationjob/{job.pk}/change/").content.decode()
    )
    assert client.post(f"/admin/jobs/preannotationjob/{job.pk}/do/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.status == "queued"
