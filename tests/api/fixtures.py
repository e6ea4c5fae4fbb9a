"""Rows the REST API tests work on: a Python model, an external model server (a real one on loopback)
with classes, a project that uses it, a trained version, a training job and a pre-annotation job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from jobs.models import PreannotationJob
from registry.label_config import label_config_parse
from registry.models import (
    ClassMapping,
    LabelStudioInstance,
    ModelClass,
    ModelProject,
    ModelVersion,
    Project,
    RegisteredModel,
    TrainingJob,
)
from tests.conftest import QuietHandler, register, serving

BOXES = (
    '<View><Image name="image" value="$image"/><RectangleLabels name="boxes" toName="image">'
    '<Label value="Car"/><Label value="Person"/></RectangleLabels>'
    '<Choices name="scene" toName="image"><Choice value="Dark"/></Choices></View>'
)
CLASSES = [{"name": "car", "type": "bounding_box"}, {"name": "person", "type": "bounding_box"}]


class DetectorHandler(QuietHandler):
    """A V7 BYOM model server: its classes, and an answer to any inference."""

    def do_GET(self) -> None:
        if self.path == "/api/classes":
            self.reply(200, json.dumps(CLASSES).encode(), "application/json")
        else:
            self.reply(404)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(200, json.dumps({"status": "succeeded", "results": []}).encode(), "application/json")


@dataclass
class World:
    dummy: RegisteredModel
    detector: RegisteredModel
    link: ModelProject
    version: ModelVersion
    job: TrainingJob
    preannotation: PreannotationJob


@pytest.fixture
def detector_url() -> Iterator[str]:
    with serving(DetectorHandler) as base:
        yield base + "/api/infer"


@pytest.fixture
def world(db: None, detector_url: str) -> World:
    dummy = register("dummy", "examples.dummy.model.DummyModel")
    detector = RegisteredModel.objects.create(name="Detector", slug="detector", kind="http", url=detector_url)
    car = ModelClass.objects.create(model=detector, name="car", type="bounding_box")
    ModelClass.objects.create(model=detector, name="person", type="bounding_box")
    project = Project.objects.create(
        instance=LabelStudioInstance.objects.create(hostname="http://ls:8080"),
        ls_project_id=42,
        label_config=BOXES,
        parsed_label_config=label_config_parse(BOXES),
    )
    link = ModelProject.objects.create(
        model=detector, project=project, label_config=BOXES, parsed_label_config=label_config_parse(BOXES)
    )
    ClassMapping.objects.create(
        model_project=link, model_class=car, from_name="boxes", label="Car", automatic=True
    )
    dummy_link = ModelProject.objects.create(model=dummy, project=project)
    version = ModelVersion.objects.create(
        model_project=dummy_link, number=1, state={"w": "1"}, metrics={"acc": 0.9}
    )
    job = TrainingJob.objects.create(model_project=dummy_link)
    preannotation = PreannotationJob.objects.create(model_project=link, model_version="detector@1")
    return World(
        dummy=dummy, detector=detector, link=link, version=version, job=job, preannotation=preannotation
    )
