"""Every endpoint of the REST API refuses a request without a token, with a wrong or revoked one or one
whose user is no longer active staff, and a read-only token's writes, in the error shape, changing
nothing; the lists of endpoints are checked against the OpenAPI schema, so a new one cannot be missed."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from api.models import ApiToken
from api.tokens import api_token_revoke
from jobs.models import PreannotationJob
from registry.models import AuditEvent, RegisteredModel, TrainingJob
from tests.api.conftest import client_with
from tests.api.fixtures import World

pytestmark = pytest.mark.django_db

READS = [
    "/api/token",
    "/api/models",
    "/api/models/dummy",
    "/api/models/detector/projects",
    "/api/models/detector/projects/{project}/mappings",
    "/api/models/dummy/versions",
    "/api/training-jobs",
    "/api/training-jobs/{job}",
    "/api/preannotations",
    "/api/preannotations/{preannotation}",
]
WRITES = [
    ("post", "/api/models", {"name": "N", "slug": "n", "import_path": "examples.dummy.model.DummyModel"}),
    ("patch", "/api/models/dummy", {"params": {"x": 1}}),
    ("post", "/api/models/dummy/enable", None),
    ("post", "/api/models/dummy/disable", None),
    ("post", "/api/models/detector/fetch-classes", None),
    ("post", "/api/models/dummy/test", None),
    ("post", "/api/models/dummy/connection-key", None),
    ("patch", "/api/models/detector/projects/{project}/mappings", {"mappings": [{"class_name": "car"}]}),
    ("post", "/api/models/dummy/projects/{project}/training", None),
    ("post", "/api/models/dummy/versions/1/activate", None),
    ("post", "/api/training-jobs/{job}/cancel", None),
    ("post", "/api/preannotations", {"model": "detector", "project": 42}),
    ("post", "/api/preannotations/{preannotation}/cancel", None),
    ("post", "/api/preannotations/{preannotation}/pause", None),
    ("post", "/api/preannotations/{preannotation}/resume", None),
    ("post", "/api/preannotations/{preannotation}/retry", None),
]
ALL = [("get", path, None) for path in READS] + WRITES


def _path(template: str, world: World) -> str:
    return template.format(
        project=world.link.project_id, job=world.job.pk, preannotation=world.preannotation.pk
    )


def _snapshot() -> tuple[object, ...]:
    return (
        list(RegisteredModel.objects.order_by("pk").values()),
        list(TrainingJob.objects.order_by("pk").values()),
        list(PreannotationJob.objects.order_by("pk").values()),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize(("method", "path", "body"), ALL)
@pytest.mark.parametrize("credentials", ["none", "malformed", "wrong", "revoked", "not staff"])
def test_every_endpoint_needs_a_live_token(
    world: World, token_for: Callable[..., str], method: str, path: str, body: object, credentials: str
) -> None:
    secret = token_for("write")
    if credentials == "revoked":
        api_token_revoke(token=ApiToken.objects.get(), actor="user:test")
    if credentials == "not staff":
        User.objects.filter(pk=ApiToken.objects.get().user_id).update(is_staff=False)
    wrong = secret[:-4] + "AAAA"
    token = {"none": None, "malformed": "nope", "wrong": wrong, "revoked": secret, "not staff": secret}[
        credentials
    ]
    before = _snapshot()
    answer = getattr(client_with(token), method)(_path(path, world), body, format="json")
    assert answer.status_code == 401, answer.content
    assert set(answer.json()) == {"error", "code"}
    assert _snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_read_only_token_cannot_write(
    world: World, token_for: Callable[..., str], method: str, path: str, body: object
) -> None:
    reader = client_with(token_for("read"))
    before = _snapshot()
    answer = getattr(reader, method)(_path(path, world), body, format="json")
    assert (answer.status_code, answer.json()["code"]) == (403, "read_only_token")
    assert _snapshot() == before


@pytest.mark.parametrize("path", READS)
def test_a_read_only_token_reads_every_resource(
    world: World, token_for: Callable[..., str], path: str
) -> None:
    assert client_with(token_for("read")).get(_path(path, world)).status_code == 200


def _as_in_schema(path: str) -> str:
    """A path of the lists above as the schema writes it."""
    path = re.sub(r"^/api/models/(dummy|detector)", "/api/models/{slug}", path)
    return path.replace("/versions/1/", "/versions/{number}/").replace("{preannotation}", "{job_id}")


def test_these_lists_name_every_operation_of_the_schema(client: Client) -> None:
    schema = client.get("/api/schema/?format=json").json()
    documented = {
        (method, path)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/") and not path.startswith("/api/schema")
        for method in operations
    }
    tested = {("get", _as_in_schema(path)) for path in READS}
    tested |= {(method, _as_in_schema(path)) for method, path, _ in WRITES}
    assert documented == tested
