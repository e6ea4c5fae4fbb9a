"""The audit log: every change to models, mappings, credentials and versions, with who and when, from the
admin and from the Hub itself; never a secret's value. And per-model admin permissions."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from registry.models import (
    AuditEvent,
    ClassMapping,
    LabelStudioInstance,
    ModelClass,
    ModelProject,
    ModelVersion,
    RegisteredModel,
    TrainingJob,
)
from tests.conftest import admin_model_form, register
from tests.processes import REPO_ROOT
from training.tasks import training_job_run

pytestmark = pytest.mark.django_db

SERVER_SECRET = "model-server-secret-7f3a"
PROTOCOL_PASSWORD = "protocol-password-91c2"
LS_TOKEN = "label-studio-token-5d8e"
BOXES = (
    '<View><Image name="image" value="$image"/><RectangleLabels name="boxes" toName="image">'
    '<Label value="Car"/><Label value="Person"/></RectangleLabels></View>'
)
NER = '<View><Labels name="label" toName="text"><Label value="PER"/></Labels><Text name="text" value="$text"/></View>'


def post_json(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def events_of(obj: Any) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk)).order_by("pk")
    )


def assert_no_secret_recorded(*secrets: str) -> None:
    everything = json.dumps(list(AuditEvent.objects.values()), default=str)
    for secret in secrets:
        assert secret not in everything


def test_admin_changes_to_a_model_are_recorded_with_the_user_and_no_secret_value(
    admin_client: Client,
) -> None:
    form = admin_model_form(
        name="Detector",
        slug="detector",
        kind="http",
        url="http://127.0.0.1:9/infer",
        auth_method="header",
        auth_header_name="X-Key",
        auth_secret=SERVER_SECRET,
        protocol_auth_required="on",
        protocol_username="ls",
        protocol_password=PROTOCOL_PASSWORD,
    )
    assert admin_client.post("/admin/registry/registeredmodel/add/", form).status_code == 302
    model = RegisteredModel.objects.get(slug="detector")
    # As a browser posts it: password fields come back empty, an empty secret keeps the stored one.
    changed = {
        **form,
        "url": "http://127.0.0.1:9/v2/infer",
        "auth_secret": SERVER_SECRET + "-new",
        "protocol_password": "",
    }
    assert (
        admin_client.post(f"/admin/registry/registeredmodel/{model.pk}/change/", changed).status_code == 302
    )
    assert (
        admin_client.post(f"/admin/registry/registeredmodel/{model.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )

    created, updated, deleted = events_of(model)
    assert (created.actor, created.action) == ("user:admin", "create")
    assert created.changes["auth_secret"] == "changed"
    assert created.changes["protocol_password_hash"] == "changed"
    assert created.changes["url"] == "http://127.0.0.1:9/infer"
    assert (updated.actor, updated.action) == ("user:admin", "update")
    assert updated.changes == {
        "url": {"from": "http://127.0.0.1:9/infer", "to": "http://127.0.0.1:9/v2/infer"},
        "version": {"from": 1, "to": 2},
        "auth_secret": "changed",
    }
    assert (deleted.actor, deleted.action, deleted.object_repr) == (
        "user:admin",
        "delete",
        "Detector (detector)",
    )
    assert_no_secret_recorded(SERVER_SECRET, PROTOCOL_PASSWORD)


def test_a_token_from_setup_is_recorded_as_label_studios_doing_once_per_change(client: Client) -> None:
    model = register("dummy", "examples.dummy.model.DummyModel")
    key = model.new_connection_key()
    model.save()
    setup = {"project": "4.1700000000", "hostname": "http://ls:8080", "access_token": LS_TOKEN}
    for _ in range(2):  # the same token again changes nothing
        assert post_json(client, f"/ml/dummy/k/{key}/setup", setup).status_code == 200
    assert post_json(client, "/ml/dummy/setup", {**setup, "access_token": LS_TOKEN + "-2"}).status_code == 200

    instance = LabelStudioInstance.objects.get(hostname="http://ls:8080")
    assert [(e.actor, e.action, e.changes) for e in events_of(instance)] == [
        ("system:label-studio:/setup", "create", {"hostname": "http://ls:8080"}),
    ]
    # The token belongs to the model that was sent it: its link is created bare, then given the
    # token; the repeated token is not a change.
    link = ModelProject.objects.get()
    assert [(e.actor, e.action, e.changes.get("access_token")) for e in events_of(link)] == [
        ("system:label-studio:/setup", "create", None),
        ("system:label-studio:/setup", "update", "changed"),
        ("system:label-studio:/setup", "update", "changed"),
    ]
    assert_no_secret_recorded(LS_TOKEN, key)


def test_mapping_edits_connection_keys_and_rollbacks_in_the_admin_are_recorded(
    admin_client: Client, client: Client
) -> None:
    model = RegisteredModel.objects.create(
        name="Boxes", slug="boxes", kind="http", url="http://127.0.0.1:9/infer"
    )
    car = ModelClass.objects.create(model=model, name="car", type=ModelClass.Type.BOUNDING_BOX)
    assert (
        post_json(client, "/ml/boxes/setup", {"project": "5.1700000000", "schema": BOXES}).status_code == 200
    )
    link = ModelProject.objects.get()
    mapping = ClassMapping.objects.get(model_class=car)
    assert (mapping.from_name, mapping.label) == ("boxes", "Car")  # auto-mapped
    assert [(e.actor, e.action) for e in events_of(mapping)] == [("system:label-studio:/setup", "create")]

    response = admin_client.post(
        f"/admin/registry/modelproject/{link.pk}/change/", mapping_form(link, "Person")
    )
    assert response.status_code == 302
    assert events_of(mapping)[-1].actor == "user:admin"
    assert events_of(mapping)[-1].changes == {
        "label": {"from": "Car", "to": "Person"},
        "automatic": {"from": True, "to": False},
    }

    admin_client.post(
        "/admin/registry/registeredmodel/", {"action": "new_connection_key", "_selected_action": [model.pk]}
    )
    assert (events_of(model)[-1].action, events_of(model)[-1].changes) == (
        "new_connection_key",
        {"connection_key_hash": "changed"},
    )

    version = ModelVersion.objects.create(model_project=link, number=1, state={"weights": "w1"})
    admin_client.post(
        "/admin/registry/modelversion/", {"action": "activate", "_selected_action": [version.pk]}
    )
    assert [(e.actor, e.action, e.changes) for e in events_of(link)][-1] == (
        "user:admin",
        "activate",
        {"active_version": 1},
    )


def mapping_form(link: ModelProject, label: str) -> dict[str, str]:
    """The model-in-project change form with its one mapping pointed at ``label``."""
    mapping = link.mappings.get()
    form = {
        f"{prefix}-{name}": value
        for prefix, total in (("mappings", "1"), ("versions", "0"), ("state", "0"))
        for name, value in (
            ("TOTAL_FORMS", total),
            ("INITIAL_FORMS", total),
            ("MIN_NUM_FORMS", "0"),
            ("MAX_NUM_FORMS", "1000"),
        )
    }
    form.update(
        {
            "mappings-0-id": str(mapping.pk),
            "mappings-0-model_project": str(link.pk),
            "mappings-0-target": json.dumps(["boxes", label]),
            "mappings-0-threshold": "",
        }
    )
    return form


def test_a_training_job_is_recorded_as_creating_and_activating_its_version(client: Client) -> None:
    register("ner", "examples.ner_interactive.model.InteractiveNER")
    assert post_json(client, "/ml/ner/setup", {"project": "3.1700000000", "schema": NER}).status_code == 200
    result = [
        {
            "type": "labels",
            "from_name": "label",
            "to_name": "text",
            "value": {"start": 0, "end": 5, "text": "Marie", "labels": ["PER"]},
        }
    ]
    event = {
        "action": "ANNOTATION_CREATED",
        "annotation": {"id": 1, "task": 1, "result": result},
        "task": {"id": 1, "data": {"text": "Marie lives in Paris."}},
        "project": {"id": 3, "label_config": NER, "created_at": "2023-11-14T22:13:20Z"},
    }
    assert post_json(client, "/ml/ner/webhook", event).status_code == 201
    job = TrainingJob.objects.get()
    TrainingJob.objects.filter(pk=job.pk).update(not_before=None)
    assert training_job_run(job.pk) == "succeeded"  # the worker's code path, run here

    version = ModelVersion.objects.get()
    assert [(e.actor, e.action) for e in events_of(version)] == [(f"system:training-job:{job.pk}", "create")]
    assert (events_of(version.model_project)[-1].actor, events_of(version.model_project)[-1].changes) == (
        f"system:training-job:{job.pk}",
        {"active_version": 1},
    )


def test_the_command_line_is_named_as_the_actor(tmp_path: Path) -> None:
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wow_ai_hub.cli",
            "register",
            "--slug",
            "dummy",
            "--import-path",
            "examples.dummy.model.DummyModel",
            "--migrate",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "hub.sqlite3") as db:
        rows = db.execute("SELECT actor, action, object_type FROM registry_auditevent").fetchall()
    # python -m wow_ai_hub.cli is the wow-ai-ml command, and the actor names it so.
    assert rows == [("system:wow-ai-ml register", "create", "registry.registeredmodel")]


def test_the_audit_log_is_read_only_in_the_admin(admin_client: Client) -> None:
    register("dummy", "examples.dummy.model.DummyModel")
    event = AuditEvent.objects.get()
    page = admin_client.get("/admin/registry/auditevent/?action__exact=create").content.decode()
    assert "registry.registeredmodel" in page
    assert admin_client.get("/admin/registry/auditevent/add/").status_code == 403
    assert (
        admin_client.post(f"/admin/registry/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    admin_client.post(f"/admin/registry/auditevent/{event.pk}/change/", {"actor": "someone-else"})
    assert AuditEvent.objects.get().actor == event.actor


def staff_with(*codenames: str) -> Client:
    user = User.objects.create_user("staff", password="pw-staff-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("can_change", [False, True])
def test_a_staff_user_with_view_permission_only_cannot_change_a_model(can_change: bool) -> None:
    model = register("dummy", "examples.dummy.model.DummyModel", auth_secret=SERVER_SECRET)
    perms = ["view_registeredmodel", *(["change_registeredmodel"] if can_change else [])]
    staff = staff_with(*perms)
    page = staff.get(f"/admin/registry/registeredmodel/{model.pk}/change/")
    assert page.status_code == 200
    assert SERVER_SECRET not in page.content.decode()  # a viewer's read-only page leaves secrets out
    form = admin_model_form(name="Renamed", slug="dummy", import_path="examples.dummy.model.DummyModel")
    response = staff.post(f"/admin/registry/registeredmodel/{model.pk}/change/", form)
    assert response.status_code == (302 if can_change else 403)
    assert RegisteredModel.objects.get().name == ("Renamed" if can_change else "dummy")


@pytest.mark.parametrize("can_change", [False, True])
def test_a_viewer_of_label_studio_instances_never_sees_their_tokens(can_change: bool) -> None:
    API_KEY = "label-studio-api-key-2b6f"
    instance = LabelStudioInstance.objects.create(
        hostname="http://ls:8080", access_token=LS_TOKEN, api_key=API_KEY
    )
    perms = ["view_labelstudioinstance", *(["change_labelstudioinstance"] if can_change else [])]
    page = staff_with(*perms).get(f"/admin/registry/labelstudioinstance/{instance.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "http://ls:8080" in text  # the instance's own page, not an error or a login page
    # An editor gets the write-only fields, empty; a viewer does not get them at all.
    assert ('name="access_token"' in text, 'name="api_key"' in text) == (can_change, can_change)
    assert LS_TOKEN not in text and API_KEY not in text


@pytest.mark.parametrize("can_change", [False, True])
def test_the_token_a_models_setup_brought_is_never_shown_on_its_model_in_project_page(
    client: Client, can_change: bool
) -> None:
    RegisteredModel.objects.create(name="Boxes", slug="boxes", kind="http", url="http://127.0.0.1:9/infer")
    ModelClass.objects.create(model=RegisteredModel.objects.get(), name="car", type="bounding_box")
    setup = {"project": "5.1700000000", "schema": BOXES, "access_token": LS_TOKEN}
    assert post_json(client, "/ml/boxes/setup", setup).status_code == 200
    link = ModelProject.objects.get()
    assert link.access_token == LS_TOKEN
    perms = ["view_modelproject", "view_classmapping"]
    staff = staff_with(*perms, *(["change_modelproject", "change_classmapping"] if can_change else []))
    page = staff.get(f"/admin/registry/modelproject/{link.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "boxes in project 5.1700000000" in text  # the link's own page, not an error or a login page
    # An editor gets the write-only field, empty; a viewer does not get it at all.
    assert ('name="access_token"' in text) == can_change
    assert LS_TOKEN not in text
    # Saving the page with the field left empty keeps the token.
    response = staff.post(f"/admin/registry/modelproject/{link.pk}/change/", mapping_form(link, "Person"))
    assert response.status_code == (302 if can_change else 403)
    assert ModelProject.objects.get().access_token == LS_TOKEN


@pytest.mark.parametrize("can_change", [False, True])
def test_a_staff_user_with_view_permission_only_cannot_change_a_mapping(
    client: Client, can_change: bool
) -> None:
    model = RegisteredModel.objects.create(
        name="Boxes", slug="boxes", kind="http", url="http://127.0.0.1:9/infer"
    )
    car = ModelClass.objects.create(model=model, name="car", type=ModelClass.Type.BOUNDING_BOX)
    post_json(client, "/ml/boxes/setup", {"project": "5.1700000000", "schema": BOXES})
    link = ModelProject.objects.get()
    mapping_perm = "change_classmapping" if can_change else "view_classmapping"
    staff = staff_with("view_modelproject", "change_modelproject", mapping_perm)
    staff.post(f"/admin/registry/modelproject/{link.pk}/change/", mapping_form(link, "Person"))
    assert ClassMapping.objects.get(model_class=car).label == ("Person" if can_change else "Car")
