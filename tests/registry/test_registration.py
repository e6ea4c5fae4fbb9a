"""One rule on every path: a change of what runs (kind, import path, URL, parameters, extra request fields)
makes a new version, whether it comes from the service, the admin or ``wow-ai-ml register`` (the REST API's
path is in tests/api); keys, training and activation are audited once, by whoever asked."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from registry.models import (
    AuditEvent,
    LabelStudioInstance,
    ModelProject,
    ModelVersion,
    Project,
    RegisteredModel,
    TrainingJob,
)
from registry.registration import (
    VERSIONED_FIELDS,
    registered_model_put,
    registered_model_update,
)
from registry.services import (
    NotAModelServer,
    connection_key_issue,
    model_fetch_classes,
    model_version_activate,
)
from tests.conftest import admin_model_form, register
from tests.wow_ai_hub.test_cli import run
from training.services import training_cancel, training_start

pytestmark = pytest.mark.django_db

DUMMY = "examples.dummy.model.DummyModel"
# For each versioned field, a change of it on a Python model (kind: to a remote ML backend, with its URL).
VERSIONED_CHANGES: dict[str, dict[str, Any]] = {
    "kind": {"kind": "ml_backend", "url": "http://sam:9090", "import_path": ""},
    "import_path": {"import_path": "tests.models.protocol.EchoModel"},
    "params": {"params": {"lr": 0.1}},
    "url": {"url": "http://elsewhere:9090"},
    "request_extra": {"request_extra": {"size": 640}},
}
UNVERSIONED_CHANGES: dict[str, Any] = {
    "name": "Renamed",
    "description": "words",
    "enabled": False,
    "threshold": 0.5,
    "prediction_cache": False,
    "timeout_seconds": 5.0,
}


def test_every_versioned_field_has_a_case() -> None:
    assert set(VERSIONED_CHANGES) == set(VERSIONED_FIELDS)


@pytest.mark.parametrize("field", VERSIONED_FIELDS)
def test_the_service_bumps_the_version_when_what_runs_changes(field: str) -> None:
    model = register("m", DUMMY)
    assert registered_model_update(model=model, changes=VERSIONED_CHANGES[field], actor="user:test")
    model.refresh_from_db()
    assert model.version == 2
    assert AuditEvent.objects.get(action="update", actor="user:test").changes["version"] == {
        "from": 1,
        "to": 2,
    }


@pytest.mark.parametrize(("field", "value"), UNVERSIONED_CHANGES.items())
def test_the_service_keeps_the_version_for_other_changes(field: str, value: Any) -> None:
    model = register("m", DUMMY)
    assert not registered_model_update(model=model, changes={field: value}, actor="user:test")
    model.refresh_from_db()
    assert (getattr(model, field), model.version) == (value, 1)


def test_a_version_given_with_the_change_is_kept_and_the_slug_never_changes() -> None:
    model = register("m", DUMMY)
    registered_model_update(model=model, changes={"params": {"a": 1}, "version": 7}, actor="user:test")
    assert RegisteredModel.objects.get().version == 7
    with pytest.raises(ValueError, match="slug"):
        registered_model_update(model=model, changes={"slug": "other"}, actor="user:test")


def test_an_invalid_change_saves_nothing() -> None:
    model = register("m", DUMMY)
    with pytest.raises(ValidationError):
        registered_model_update(model=model, changes={"kind": "http", "params": {"x": 1}}, actor="user:test")
    stored = RegisteredModel.objects.get()
    assert (stored.kind, stored.params, stored.version) == ("python", {}, 1)


@pytest.mark.parametrize("field", ["import_path", "params", "request_extra"])
def test_the_admin_bumps_by_the_same_rule(admin_client: Client, field: str) -> None:
    model = register("m", DUMMY)
    form = admin_model_form(name="m", slug="m", import_path=DUMMY)
    change = VERSIONED_CHANGES[field][field]
    form[field] = change if isinstance(change, str) else json.dumps(change)
    assert admin_client.post(f"/admin/registry/registeredmodel/{model.pk}/change/", form).status_code == 302
    model.refresh_from_db()
    assert model.version == 2
    form["version"], form["description"] = "2", "only words"
    admin_client.post(f"/admin/registry/registeredmodel/{model.pk}/change/", form)
    model.refresh_from_db()
    assert (model.version, model.description) == (2, "only words")


def test_put_registers_then_updates_with_the_rule() -> None:
    model, created, bumped = registered_model_put(slug="m", actor=None, kind="python", import_path=DUMMY)
    assert (created, bumped, model.name, model.version) == (True, False, "m", 1)
    same = registered_model_put(slug="m", actor=None, kind="python", import_path=DUMMY)
    assert same[1:] == (False, False)
    moved = registered_model_put(slug="m", actor=None, import_path="tests.models.protocol.EchoModel")
    assert moved[1:] == (False, True) and RegisteredModel.objects.get().version == 2


def test_the_command_line_register_bumps_by_the_same_rule(tmp_path: Path) -> None:
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    first = run("register", "--slug", "m", "--import-path", DUMMY, "--migrate", env=env)
    assert "Registered m (python), version m@1" in first.stdout, first.stderr
    again = run("register", "--slug", "m", "--import-path", DUMMY, env=env)
    assert "Already registered m (python), version m@1" in again.stdout, again.stderr
    moved = run("register", "--slug", "m", "--import-path", "tests.models.protocol.EchoModel", env=env)
    assert "Updated m (python), version m@2" in moved.stdout, moved.stderr
    with sqlite3.connect(tmp_path / "hub.sqlite3") as db:
        rows = list(db.execute("SELECT actor, action, changes FROM registry_auditevent ORDER BY id"))
    assert [(actor, action) for actor, action, _ in rows] == [
        ("system:wow-ai-ml register", "create"),
        ("system:wow-ai-ml register", "update"),
    ]
    assert json.loads(rows[1][2])["version"] == {"from": 1, "to": 2}


def test_a_new_connection_key_replaces_the_old_one_and_is_audited_once() -> None:
    model = register("m", DUMMY, protocol_auth_required=True)
    old = connection_key_issue(model=model, actor="user:test")
    new = connection_key_issue(model=model, actor="user:test")
    stored = RegisteredModel.objects.get()
    assert stored.check_connection_key(new) and not stored.check_connection_key(old)
    events = AuditEvent.objects.filter(action="new_connection_key")
    assert events.count() == 2 and all(e.changes == {"connection_key_hash": "changed"} for e in events)


def test_only_model_servers_list_their_classes() -> None:
    with pytest.raises(NotAModelServer):
        model_fetch_classes(model=register("m", DUMMY))


@pytest.fixture
def link() -> ModelProject:
    project = Project.objects.create(
        instance=LabelStudioInstance.objects.create(hostname="h"), ls_project_id=1
    )
    return ModelProject.objects.create(model=register("m", DUMMY), project=project)


def test_training_start_and_cancel_are_audited_by_who_asked(link: ModelProject) -> None:
    job = training_start(link=link, actor="user:alice")
    assert (job.trigger, job.status) == (TrainingJob.Trigger.MANUAL, TrainingJob.Status.QUEUED)
    assert training_cancel(job=job, actor="user:bob")
    assert not training_cancel(job=job, actor="user:bob")  # already cancelled: nothing to record
    events = AuditEvent.objects.filter(action__in=["start_training", "cancel_training"]).order_by("pk")
    assert [(e.action, e.actor) for e in events] == [
        ("start_training", "user:alice"),
        ("cancel_training", "user:bob"),
    ]


def test_activating_a_version_is_audited_once(admin_client: Client, link: ModelProject) -> None:
    version = ModelVersion.objects.create(model_project=link, number=3, state={"k": "v"})
    model_version_activate(version=version, actor="user:test")
    admin_client.post(
        "/admin/registry/modelversion/", {"action": "activate", "_selected_action": [version.pk]}
    )
    assert ModelProject.objects.get().active_version == 3
    actors = list(AuditEvent.objects.filter(action="activate").values_list("actor", flat=True))
    assert sorted(actors) == ["user:admin", "user:test"]


BOXES = (
    '<View><Image name="image" value="$image"/><RectangleLabels name="boxes" toName="image">'
    '<Label value="Car"/><Label value="Person"/></RectangleLabels>'
    '<Choices name="scene" toName="image"><Choice value="Dark"/></Choices></View>'
)


@pytest.fixture
def detector_link() -> ModelProject:
    from registry.label_config import label_config_parse
    from registry.models import ClassMapping, ModelClass

    model = RegisteredModel.objects.create(name="d", slug="d", kind="http", url="http://det:9091/api/infer")
    car = ModelClass.objects.create(model=model, name="car", type="bounding_box")
    ModelClass.objects.create(model=model, name="person", type="bounding_box")
    project = Project.objects.create(
        instance=LabelStudioInstance.objects.create(hostname="h"),
        ls_project_id=1,
        label_config=BOXES,
        parsed_label_config=label_config_parse(BOXES),
    )
    link = ModelProject.objects.create(
        model=model, project=project, label_config=BOXES, parsed_label_config=label_config_parse(BOXES)
    )
    ClassMapping.objects.create(
        model_project=link, model_class=car, from_name="boxes", label="Car", automatic=True
    )
    return link


def test_mapping_changes_are_checked_like_the_admins_and_saved_all_or_none(
    detector_link: ModelProject,
) -> None:
    from registry.mapping import MappingChange, class_mappings_change
    from registry.models import ClassMapping

    with pytest.raises(ValidationError) as refused:
        class_mappings_change(
            link=detector_link,
            changes=[
                MappingChange(class_name="person", from_name="boxes", label="Person"),
                MappingChange(class_name="car", from_name="scene", label="Dark"),  # a box is no choice
                MappingChange(class_name="bus", from_name="boxes", label="Car"),
            ],
            actor="user:test",
        )
    assert [m.split(":")[0] for m in refused.value.message_dict["mappings"]] == ["car", "bus"]
    assert list(ClassMapping.objects.values_list("model_class__name", "label")) == [("car", "Car")]

    class_mappings_change(
        link=detector_link,
        changes=[
            MappingChange(
                class_name="person", from_name="boxes", label="Person", threshold=0.7, set_threshold=True
            ),
            MappingChange(class_name="car"),  # unmapped
        ],
        actor="user:test",
    )
    rows = {m.model_class.name: m for m in ClassMapping.objects.select_related("model_class")}
    assert (rows["car"].from_name, rows["car"].automatic) == ("", False)
    assert (rows["person"].label, rows["person"].threshold) == ("Person", 0.7)
    assert AuditEvent.objects.filter(actor="user:test", object_type="registry.classmapping").count() == 2
