"""The REST API's per-project endpoints: projects of a model, class mappings (checked as the admin checks
them), versions (list, activate) and training jobs (start on a real Celery worker, status, cancel)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from registry.models import AuditEvent, ClassMapping, ModelProject, TrainingJob
from tests.api.fixtures import World

pytestmark = pytest.mark.django_db


def test_a_models_projects_are_listed_and_filtered(writer: APIClient, world: World) -> None:
    page = writer.get("/api/models/detector/projects").json()
    assert page["count"] == 1
    project = page["results"][0]
    assert (project["id"], project["ls_project_id"], project["label_studio"]) == (
        world.link.project_id,
        42,
        "http://ls:8080",
    )
    assert project["model_version"] == "detector@1"
    assert writer.get("/api/models/detector/projects?ls_project_id=7").json()["count"] == 0
    assert writer.get("/api/models/detector/projects?ls_project_id=x").status_code == 400
    assert writer.get("/api/models/nope/projects").status_code == 404


def test_mappings_show_every_class_and_where_it_may_go(writer: APIClient, world: World) -> None:
    body = writer.get(f"/api/models/detector/projects/{world.link.project_id}/mappings").json()
    assert body["project"]["ls_project_id"] == 42
    rows = {row["class_name"]: row for row in body["mappings"]}
    assert (rows["car"]["from_name"], rows["car"]["label"], rows["car"]["automatic"]) == (
        "boxes",
        "Car",
        True,
    )
    assert (rows["person"]["from_name"], rows["person"]["label"]) == ("", "")  # unmapped: no row yet
    assert rows["person"]["targets"] == [
        {"from_name": "boxes", "label": "Car"},
        {"from_name": "boxes", "label": "Person"},
    ]
    assert writer.get("/api/models/detector/projects/999/mappings").status_code == 404


def test_mappings_change_all_or_none(writer: APIClient, world: World) -> None:
    path = f"/api/models/detector/projects/{world.link.project_id}/mappings"
    refused = writer.patch(
        path,
        {
            "mappings": [
                {"class_name": "person", "from_name": "boxes", "label": "Person"},
                {"class_name": "car", "from_name": "scene", "label": "Dark"},
            ]
        },
        format="json",
    )
    assert refused.status_code == 400 and "car: scene:Dark" in refused.json()["error"]
    assert list(ClassMapping.objects.values_list("model_class__name", "label")) == [("car", "Car")]
    changed = writer.patch(
        path,
        {
            "mappings": [
                {"class_name": "person", "from_name": "boxes", "label": "Person", "threshold": 0.4},
                {"class_name": "car"},
            ]
        },
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    rows = {row["class_name"]: row for row in changed.json()["mappings"]}
    assert (rows["person"]["label"], rows["person"]["threshold"], rows["person"]["automatic"]) == (
        "Person",
        0.4,
        False,
    )
    assert rows["car"]["from_name"] == "" and rows["car"]["threshold"] is None
    assert (
        AuditEvent.objects.filter(object_type="registry.classmapping", actor__contains="API token").count()
        == 2
    )


@pytest.mark.parametrize(
    "mappings",
    [
        [{"class_name": "car", "from_name": "boxes"}],  # label missing
        [{"class_name": "car", "from_name": "boxes", "label": "Car", "threshold": 2}],
        [],
        "car",
    ],
)
def test_malformed_mapping_changes_are_400s(writer: APIClient, world: World, mappings: object) -> None:
    path = f"/api/models/detector/projects/{world.link.project_id}/mappings"
    answer = writer.patch(path, {"mappings": mappings}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "invalid"


def test_versions_are_listed_and_activated(writer: APIClient, world: World) -> None:
    listed = writer.get("/api/models/dummy/versions").json()
    assert listed["count"] == 1
    assert listed["results"][0] | {"created_at": None} == {
        "number": 1,
        "project": world.link.project_id,
        "model_version": "dummy@1.1",
        "active": False,
        "metrics": {"acc": 0.9},
        "job": None,
        "created_at": None,
    }
    activated = writer.post("/api/models/dummy/versions/1/activate")
    assert activated.status_code == 200 and activated.json()["active"] is True
    assert ModelProject.objects.get(model__slug="dummy").model_version == "dummy@1.1"
    assert AuditEvent.objects.filter(action="activate", actor__contains="API token").count() == 1
    assert writer.post("/api/models/dummy/versions/5/activate").status_code == 404
    assert writer.get(f"/api/models/dummy/versions?project={world.link.project_id + 1}").json()["count"] == 0


def test_training_jobs_are_listed_read_and_cancelled(writer: APIClient, world: World) -> None:
    listed = writer.get("/api/training-jobs?model=dummy&status=queued").json()
    assert [job["id"] for job in listed["results"]] == [world.job.pk]
    assert writer.get("/api/training-jobs?model=detector").json()["count"] == 0
    assert writer.get("/api/training-jobs?status=sleeping").status_code == 400
    job = writer.get(f"/api/training-jobs/{world.job.pk}").json()
    assert (job["model"], job["status"], job["project"]) == ("dummy", "queued", world.link.project_id)
    cancelled = writer.post(f"/api/training-jobs/{world.job.pk}/cancel")
    assert (cancelled.status_code, cancelled.json()["status"]) == (202, "cancelled")
    again = writer.post(f"/api/training-jobs/{world.job.pk}/cancel")
    assert (again.status_code, again.json()["code"]) == (409, "job_finished")
    assert writer.get("/api/training-jobs/99999").status_code == 404


def test_starting_training_joins_the_queued_job(writer: APIClient, world: World) -> None:
    answer = writer.post(f"/api/models/dummy/projects/{world.link.project_id}/training")
    assert answer.status_code == 202 and answer.json()["id"] == world.job.pk
    assert TrainingJob.objects.count() == 1
    assert AuditEvent.objects.filter(action="start_training", actor__contains="API token").exists()
