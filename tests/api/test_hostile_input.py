"""Hostile input to the REST API: ids beyond any table, fields it does not have, filters with values it
does not know. Each gets a clear 4xx in the error shape and changes nothing; none is a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobs.models import PreannotationJob
from registry.models import ClassMapping, RegisteredModel, TrainingJob
from tests.api.conftest import client_with
from tests.api.fixtures import World

pytestmark = pytest.mark.django_db

HUGE = 10**30  # no 64-bit column holds it (SQLite's driver, the quickstart's database, raised on it)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"/api/models/detector/projects/{HUGE}/mappings"),
        ("patch", f"/api/models/detector/projects/{HUGE}/mappings"),
        ("post", f"/api/models/dummy/projects/{HUGE}/training"),
        ("get", f"/api/training-jobs/{HUGE}"),
        ("post", f"/api/training-jobs/{HUGE}/cancel"),
        ("post", f"/api/models/dummy/versions/{HUGE}/activate"),
        ("get", f"/api/preannotations/{HUGE}"),
        ("post", f"/api/preannotations/{HUGE}/cancel"),
    ],
)
def test_ids_beyond_any_table_are_404s(
    world: World, token_for: Callable[..., str], method: str, path: str
) -> None:
    body = {"mappings": [{"class_name": "car"}]}
    answer = getattr(client_with(token_for("write")), method)(path, body, format="json")
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found"), answer.content
    assert not TrainingJob.objects.exclude(pk=world.job.pk).exists()


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "post",
            "/api/models",
            {"name": "N", "slug": "n", "import_path": "examples.dummy.model.DummyModel", "treshold": 0.5},
            "treshold",
        ),
        (
            "post",
            "/api/models",
            {"name": "N", "slug": "n", "import_path": "a.B", "model_version": "x"},
            "model_version",
        ),
        ("patch", "/api/models/dummy", {"slug": "renamed"}, "slug"),
        ("patch", "/api/models/dummy", {"name": "x", "enabeld": False}, "enabeld"),
        ("patch", "/api/models/detector/projects/{project}/mappings", {"mappings": [], "extra": 1}, "extra"),
        (
            "patch",
            "/api/models/detector/projects/{project}/mappings",
            {"mappings": [{"class_name": "car", "lable": "Car"}]},
            "mappings",
        ),
        ("post", "/api/preannotations", {"model": "detector", "project": 42, "taskids": [1]}, "taskids"),
    ],
)
def test_unknown_fields_are_refused_by_name_and_change_nothing(
    world: World, token_for: Callable[..., str], method: str, path: str, body: object, field: str
) -> None:
    models = list(RegisteredModel.objects.order_by("pk").values())
    mappings = list(ClassMapping.objects.order_by("pk").values())
    jobs = PreannotationJob.objects.count()
    answer = getattr(client_with(token_for("write")), method)(
        path.format(project=world.link.project_id), body, format="json"
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid"), answer.content
    assert field in answer.json()["fields"]
    assert list(RegisteredModel.objects.order_by("pk").values()) == models
    assert list(ClassMapping.objects.order_by("pk").values()) == mappings
    assert PreannotationJob.objects.count() == jobs


def test_the_slug_is_refused_with_the_reason(world: World, token_for: Callable[..., str]) -> None:
    answer = client_with(token_for("write")).patch("/api/models/dummy", {"slug": "x"}, format="json")
    assert "cannot change" in answer.json()["fields"]["slug"][0]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/models?kind=nope", "kind"),
        ("/api/models?enabled=maybe", "enabled"),
        ("/api/models?health=fine", "health"),
        ("/api/training-jobs?status=nope", "status"),
        (f"/api/training-jobs?project={HUGE}", "project"),
        ("/api/models/dummy/versions?project=abc", "project"),
        ("/api/preannotations?project=-1", "project"),
    ],
)
def test_unknown_filter_values_are_400s(
    world: World, token_for: Callable[..., str], path: str, field: str
) -> None:
    answer = client_with(token_for("read")).get(path)
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid"), answer.content
    assert list(answer.json()["fields"]) == [field]
