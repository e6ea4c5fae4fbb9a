"""The REST API's model endpoints: list (filters, pagination), register, read, change (the version rule,
as in the admin and the CLI), enable/disable, fetch classes from a real model server, test, rotate key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from registry.models import AuditEvent, ModelClass, RegisteredModel
from registry.registration import VERSIONED_FIELDS
from tests.api.conftest import client_with
from tests.conftest import register
from tests.registry.test_registration import VERSIONED_CHANGES

pytestmark = pytest.mark.django_db

DUMMY = "examples.dummy.model.DummyModel"


def test_the_list_is_paginated_and_filtered(writer: APIClient) -> None:
    for n in range(7):
        register(f"m{n}", DUMMY, enabled=n % 2 == 0, description="blue" if n == 3 else "")
    RegisteredModel.objects.filter(slug="m1").update(last_check_ok=False)
    page = writer.get("/api/models?page_size=3").json()
    assert page["count"] == 7 and [m["slug"] for m in page["results"]] == ["m0", "m1", "m2"]
    assert page["next"].endswith("page=2&page_size=3") and page["previous"] is None
    assert [m["slug"] for m in writer.get("/api/models?enabled=false").json()["results"]] == [
        "m1",
        "m3",
        "m5",
    ]
    assert [m["slug"] for m in writer.get("/api/models?search=BLUE").json()["results"]] == ["m3"]
    assert [m["slug"] for m in writer.get("/api/models?health=error").json()["results"]] == ["m1"]
    assert writer.get("/api/models?kind=http").json()["count"] == 0
    bad = writer.get("/api/models?health=maybe&enabled=perhaps")
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"health", "enabled"}
    assert writer.get("/api/models?page=9").status_code == 404


def test_registering_a_model_shows_where_label_studio_connects(writer: APIClient) -> None:
    answer = writer.post(
        "/api/models",
        {
            "name": "Dummy",
            "slug": "dummy",
            "import_path": DUMMY,
            "params": {"a": 1},
            "protocol_password": "pw",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["model_version"], body["kind"], body["params"]) == ("dummy@1", "python", {"a": 1})
    assert body["label_studio_url"].endswith("/ml/dummy") and body["protocol_password_set"] is True
    assert "protocol_password" not in body and "auth_secret" not in body
    assert AuditEvent.objects.get(action="create").actor.startswith("user:alice (API token ")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "slug": "x", "import_path": "not a path"}, "import_path"),
        ({"name": "X", "slug": "x", "kind": "carrier-pigeon"}, "kind"),
        ({"name": "X", "slug": "x", "import_path": DUMMY, "params": [1, 2]}, "params"),
        ({"name": "X", "slug": "has spaces", "import_path": DUMMY}, "slug"),
        ({"name": "X", "slug": "x", "kind": "http", "url": "ftp://nope"}, "url"),
        (
            {"name": "X", "slug": "x", "kind": "http", "auth_method": "basic", "url": "http://a:1"},
            "auth_username",
        ),
        ({"name": "X", "slug": "dummy", "import_path": DUMMY}, "slug"),
        ({"slug": "x", "import_path": DUMMY}, "name"),
    ],
)
def test_invalid_registrations_are_400s_that_save_nothing(
    writer: APIClient, body: dict[str, object], field: str
) -> None:
    register("dummy", DUMMY)
    answer = writer.post("/api/models", body, format="json")
    assert answer.status_code == 400, answer.json()
    assert answer.json()["code"] == "invalid" and field in answer.json()["fields"]
    assert list(RegisteredModel.objects.values_list("slug", flat=True)) == ["dummy"]


@pytest.mark.parametrize("field", VERSIONED_FIELDS)
def test_the_api_bumps_the_version_by_the_same_rule(writer: APIClient, field: str) -> None:
    register("dummy", DUMMY)
    answer = writer.patch("/api/models/dummy", VERSIONED_CHANGES[field], format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["model_version"] == "dummy@2"
    again = writer.patch("/api/models/dummy", {"description": "words", "name": "New"}, format="json")
    assert (again.json()["model_version"], again.json()["name"]) == ("dummy@2", "New")


def test_admin_cli_and_api_agree_on_versions(writer: APIClient, admin_client: Client) -> None:
    from tests.conftest import admin_model_form

    api_model, admin_model = register("a", DUMMY), register("b", DUMMY)
    writer.patch("/api/models/a", {"params": {"k": 1}}, format="json")
    form = admin_model_form(name="b", slug="b", import_path=DUMMY, params='{"k": 1}')
    admin_client.post(f"/admin/registry/registeredmodel/{admin_model.pk}/change/", form)
    api_model.refresh_from_db()
    admin_model.refresh_from_db()
    assert api_model.version == admin_model.version == 2


def test_an_invalid_change_is_a_400_and_saves_nothing(writer: APIClient) -> None:
    register("dummy", DUMMY)
    answer = writer.patch("/api/models/dummy", {"kind": "http", "name": "Changed"}, format="json")
    assert answer.status_code == 400 and "url" in answer.json()["fields"]
    stored = RegisteredModel.objects.get()
    assert (stored.kind, stored.name, stored.version) == ("python", "dummy", 1)
    assert writer.patch("/api/models/dummy", {"timeout_seconds": 500}, format="json").status_code == 400
    assert writer.patch("/api/models/nope", {"name": "x"}, format="json").status_code == 404


def test_the_slug_cannot_be_changed_and_secrets_are_write_only(writer: APIClient) -> None:
    register("dummy", DUMMY)
    renamed = writer.patch("/api/models/dummy", {"slug": "other"}, format="json")
    assert renamed.status_code == 400 and "cannot change" in renamed.json()["fields"]["slug"][0]
    answer = writer.patch("/api/models/dummy", {"auth_secret": "s3cr3t-value"}, format="json")
    assert answer.status_code == 200 and answer.json()["slug"] == "dummy"
    assert answer.json()["auth_secret_set"] is True and "s3cr3t-value" not in answer.content.decode()
    assert RegisteredModel.objects.get().auth_secret == "s3cr3t-value"
    assert AuditEvent.objects.filter(action="update").latest("pk").changes["auth_secret"] == "changed"


def test_disable_and_enable(writer: APIClient) -> None:
    register("dummy", DUMMY)
    assert writer.post("/api/models/dummy/disable").json()["enabled"] is False
    assert Client().get("/ml/dummy/health").status_code == 503
    assert writer.post("/api/models/dummy/enable").json()["enabled"] is True
    assert Client().get("/ml/dummy/health").status_code == 200
    assert RegisteredModel.objects.get().version == 1


def test_fetching_classes_reads_the_model_server(writer: APIClient, detector_url: str) -> None:
    RegisteredModel.objects.create(name="D", slug="detector", kind="http", url=detector_url)
    answer = writer.post("/api/models/detector/fetch-classes")
    assert answer.json() == {"created": 2, "updated": 0, "total": 2}
    assert sorted(ModelClass.objects.values_list("name", flat=True)) == ["car", "person"]
    assert writer.get("/api/models/detector").json()["classes"] == [
        {"name": "car", "type": "bounding_box"},
        {"name": "person", "type": "bounding_box"},
    ]
    register("dummy", DUMMY)
    refused = writer.post("/api/models/dummy/fetch-classes")
    assert (refused.status_code, refused.json()["code"]) == (400, "not_a_model_server")


def test_fetching_classes_from_a_dead_server_is_a_503(writer: APIClient) -> None:
    from tests.processes import free_port

    RegisteredModel.objects.create(
        name="D", slug="gone", kind="http", url=f"http://127.0.0.1:{free_port()}/infer"
    )
    answer = writer.post("/api/models/gone/fetch-classes")
    assert answer.status_code == 503 and set(answer.json()) == {"error", "code"}


def test_testing_a_model_records_the_outcome(writer: APIClient) -> None:
    register("dummy", DUMMY)
    register("broken", "tests.models.protocol.BrokenConstructorModel")
    good = writer.post("/api/models/dummy/test").json()
    assert good["ok"] is True and "DummyModel" in good["message"]
    bad = writer.post("/api/models/broken/test").json()
    assert bad["ok"] is False
    assert writer.get("/api/models/broken").json()["last_check"]["ok"] is False


def test_a_new_connection_key_is_shown_once_and_works(writer: APIClient) -> None:
    register("dummy", DUMMY, protocol_auth_required=True)
    answer = writer.post("/api/models/dummy/connection-key")
    assert answer.status_code == 201 and answer["Cache-Control"] == "no-store"
    key = answer.json()["key"]
    assert answer.json()["label_studio_url"].endswith(f"/ml/dummy/k/{key}")
    assert Client().get(f"/ml/dummy/k/{key}/health").status_code == 200
    assert Client().get("/ml/dummy/health").status_code == 401
    assert key not in str(writer.get("/api/models/dummy").json())
    writer.post("/api/models/dummy/connection-key")
    assert Client().get(f"/ml/dummy/k/{key}/health").status_code == 401


def test_writes_need_the_users_model_permissions(token_for: Callable[..., str]) -> None:
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_registeredmodel"))
    client = client_with(token_for("write", user=viewer))
    register("dummy", DUMMY)
    assert client.get("/api/models/dummy").status_code == 200
    refused = client.patch("/api/models/dummy", {"name": "x"}, format="json")
    assert refused.status_code == 403 and "change_registeredmodel" in refused.json()["error"]
    assert (
        client.post(
            "/api/models", {"name": "n", "slug": "n", "import_path": DUMMY}, format="json"
        ).status_code
        == 403
    )
    assert RegisteredModel.objects.get().name == "dummy"


def test_a_model_server_outside_hub_model_hosts_allowed_is_a_field_error(
    settings: Any, writer: APIClient
) -> None:
    """The allow-list of model server hosts (tests/registry/test_model_hosts.py), through the REST API."""
    settings.HUB_MODEL_HOSTS_ALLOWED = ["127.0.0.0/8"]
    body = {
        "name": "M",
        "slug": "m",
        "kind": "http",
        "url": "http://127.0.0.1:9091/infer",
        "classes_url": "http://10.9.0.1/classes",
    }
    answer = writer.post("/api/models", body, format="json")
    assert answer.status_code == 400
    assert "HUB_MODEL_HOSTS_ALLOWED" in str(answer.json()["fields"]["classes_url"])
    assert not RegisteredModel.objects.exists()
