from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from registry.models import LabelStudioInstance, ModelProject, Project, RegisteredModel, WebhookEvent
from tests.conftest import admin_model_form, register

pytestmark = pytest.mark.django_db


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_model_list_shows_health_version_and_filters(admin_client: Client) -> None:
    ok = register("dummy", "examples.dummy.model.DummyModel")
    RegisteredModel.objects.filter(pk=ok.pk).update(last_check_ok=True, last_check_latency_ms=12.0)
    register("broken", "tests.models.protocol.BrokenConstructorModel", version=3)
    page = admin_client.get("/admin/registry/registeredmodel/").content.decode()
    assert "dummy@1" in page and "broken@3" in page and "12 ms" in page
    filtered = admin_client.get("/admin/registry/registeredmodel/?health=ok").content.decode()
    assert "dummy@1" in filtered and "broken@3" not in filtered
    assert "broken@3" in admin_client.get("/admin/registry/registeredmodel/?q=broken").content.decode()


def test_registering_a_model_through_the_admin_form(admin_client: Client) -> None:
    form = admin_model_form(
        name="Text", slug="text", import_path="examples.text_classifier.model.TextClassifier"
    )
    response = admin_client.post("/admin/registry/registeredmodel/add/", form)
    assert response.status_code == 302
    assert RegisteredModel.objects.get(slug="text").model_version == "text@1"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("import_path", "not a path", "dotted path"),
        ("kind", "carrier-pigeon", "not one of the available choices"),
        ("params", "[1, 2]", "JSON object"),
        ("slug", "has spaces", "slug"),
    ],
)
def test_the_admin_form_refuses_invalid_registrations(
    admin_client: Client, field: str, value: str, error: str
) -> None:
    form = admin_model_form(name="X", slug="x", import_path="examples.dummy.model.DummyModel")
    response = admin_client.post("/admin/registry/registeredmodel/add/", {**form, field: value})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not RegisteredModel.objects.exists()


def test_changing_the_code_path_bumps_the_version_and_the_slug_is_fixed(admin_client: Client) -> None:
    model = register("dummy", "examples.dummy.model.DummyModel")
    form = admin_model_form(name="Dummy", slug="renamed", import_path="tests.models.protocol.EchoModel")
    assert admin_client.post(f"/admin/registry/registeredmodel/{model.pk}/change/", form).status_code == 302
    model.refresh_from_db()
    assert (model.slug, model.version, model.model_version) == ("dummy", 2, "dummy@2")
    form.update(description="only the description", version="2")
    admin_client.post(f"/admin/registry/registeredmodel/{model.pk}/change/", form)
    model.refresh_from_db()
    assert model.version == 2


@pytest.mark.parametrize(
    ("registered", "changed", "bumped"),
    [
        ({}, {"params": '{"temperature": 0.5}'}, True),
        ({"kind": "http", "url": "http://127.0.0.1:9/infer"}, {"request_extra": '{"mode": "fast"}'}, True),
        ({"kind": "http", "url": "http://127.0.0.1:9/infer"}, {"kind": "ml_backend"}, True),
        ({"kind": "http", "url": "http://127.0.0.1:9/infer"}, {"url": "http://127.0.0.1:9/v2/infer"}, True),
        ({}, {"name": "Renamed", "description": "what it does", "timeout_seconds": "5"}, False),
    ],
    ids=["params", "request_extra", "kind", "url", "nothing-that-runs"],
)
def test_the_version_is_bumped_when_what_runs_changes_and_only_then(
    admin_client: Client, registered: dict[str, str], changed: dict[str, str], bumped: bool
) -> None:
    fields = {"import_path": "examples.dummy.model.DummyModel", **registered}
    model = RegisteredModel.objects.create(name="Model", slug="model", **fields)
    form = admin_model_form(**{**fields, **changed})
    response = admin_client.post(f"/admin/registry/registeredmodel/{model.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]  # saved, not refused
    model.refresh_from_db()
    assert (model.version, model.model_version) == ((2, "model@2") if bumped else (1, "model@1"))


def test_the_test_connection_action_loads_the_model_and_records_the_outcome(admin_client: Client) -> None:
    good = register("dummy", "examples.dummy.model.DummyModel")
    bad = register("broken", "tests.models.protocol.BrokenConstructorModel")
    response = admin_client.post(
        "/admin/registry/registeredmodel/",
        {"action": "test_connection", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    shown = " | ".join(messages_of(response))
    assert "dummy: Loaded DummyModel" in shown
    assert (
        "broken: Model broken: building BrokenConstructorModel failed: RuntimeError: weights file missing"
        in shown
    )
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.last_check_ok, good.last_check_error) == (True, "")
    assert good.last_check_latency_ms is not None and good.last_checked_at is not None
    assert bad.last_check_ok is False and "weights file missing" in bad.last_check_error


def test_label_studio_tokens_are_encrypted_at_rest_and_never_shown(admin_client: Client) -> None:
    instance = LabelStudioInstance.objects.create(
        hostname="http://ls:8080", access_token="s3cret-token-value"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM registry_labelstudioinstance WHERE id = %s", [instance.pk])
        raw = cursor.fetchone()[0]
    assert "s3cret" not in raw and raw.startswith("gAAAA")
    response = admin_client.get(f"/admin/registry/labelstudioinstance/{instance.pk}/change/")
    page = response.content.decode()
    # The editor's own page, with the token's field there and empty: not an error page that shows nothing.
    assert response.status_code == 200 and "http://ls:8080" in page
    assert re.search(r'<input type="password" name="access_token"(?![^>]*value=)[^>]*>', page)
    assert "A value is stored." in page and "s3cret-token-value" not in page
    # Saving the form without typing a token keeps the stored one.
    admin_client.post(
        f"/admin/registry/labelstudioinstance/{instance.pk}/change/",
        {"hostname": "http://ls:8080", "access_token": ""},
    )
    instance.refresh_from_db()
    assert instance.access_token == "s3cret-token-value"


def test_project_pages_show_the_parsed_config(admin_client: Client) -> None:
    instance = LabelStudioInstance.objects.create(hostname="http://ls:8080")
    project = Project.objects.create(
        instance=instance,
        ls_project_id=7,
        created_ts=1700000000,
        label_config="<View/>",
        parsed_label_config={"sentiment": {"type": "Choices", "to_name": ["text"], "labels": ["A"]}},
    )
    assert "sentiment (Choices)" in admin_client.get("/admin/registry/project/").content.decode()
    detail = admin_client.get(f"/admin/registry/project/{project.pk}/change/").content.decode()
    assert "&quot;labels&quot;" in detail
    model = register("dummy", "examples.dummy.model.DummyModel")
    ModelProject.objects.create(model=model, project=project)
    WebhookEvent.objects.create(
        model=model, project=project, action="ANNOTATION_CREATED", payload={}, payload_sha256="1"
    )
    # Each list shows its row (the project's, named after its Label Studio), not only an empty page.
    for page, shown in [
        ("modelproject", "dummy"),
        ("webhookevent", "ANNOTATION_CREATED"),
        ("labelstudioinstance", "http://ls:8080"),
    ]:
        response = admin_client.get(f"/admin/registry/{page}/")
        assert response.status_code == 200 and response.context["cl"].result_count == 1, page
        assert shown in response.content.decode(), page
