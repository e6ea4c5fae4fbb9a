"""docs/api.md's register → map → test → pre-annotate sequence, run as written: its curl commands under
bash against a live Hub (gunicorn), the example V7 detector and a Label Studio stand-in, with only the
model server's address, the ids the Hub gives and the Label Studio key put in. Each call must succeed
(curl --fail-with-body), and the job's predictions reach Label Studio as the mapping says."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from PIL import Image, ImageDraw

from api.tokens import api_token_issue
from jobs.models import PreannotationJob
from jobs.worker import preannotation_job_run
from registry.models import ClassMapping, ModelProject, RegisteredModel
from tests.inference.test_external_models import detector  # noqa: F401 - the example detector, a fixture
from tests.jobs.label_studio_stand_in import TOKEN, StandIn, label_studio_stand_in
from tests.live import LiveHub
from tests.processes import REPO_ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

DOCS = REPO_ROOT / "docs" / "api.md"
CONFIG = (
    '<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">'
    '<Label value="square"/><Label value="Round"/><Label value="face"/></RectangleLabels></View>'
)


def picture(shape: str) -> str:
    image = Image.new("RGB", (128, 128), "white")
    draw = ImageDraw.Draw(image)
    (draw.ellipse if shape == "circle" else draw.rectangle)((20, 20, 90, 90), fill=(30, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def blocks() -> list[str]:
    """The bash blocks of the sequence's section, in order."""
    text = DOCS.read_text()
    section = text[text.index("## Register → map → test → pre-annotate") : text.index("## Changing a model")]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


@pytest.fixture
def ls() -> Iterator[StandIn]:
    with label_studio_stand_in() as stand_in:
        stand_in.project_id, stand_in.label_config = 42, CONFIG  # the docs' Label Studio project
        stand_in.add_tasks(4, lambda i: {"image": picture("circle" if i % 2 else "square")})
        yield stand_in


def bash(script: str, env: dict[str, str]) -> str:
    # Every curl of the docs as written, failing on an HTTP error instead of printing it.
    prelude = 'set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 60 "$@"; echo; }\n'
    done = subprocess.run(
        ["bash", "-c", prelude + script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


def test_the_documented_sequence_runs_as_written(live_hub: LiveHub, detector: str, ls: StandIn) -> None:  # noqa: F811
    register_and_test, map_and_preannotate = blocks()
    admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
    token = api_token_issue(user=admin, name="scripts", scope="write", actor="user:admin").secret
    env: dict[str, Any] = {**os.environ, "HUB": live_hub.url, "TOKEN": token}

    # 1-2: register, fetch classes, test. The quickstart's detector address is this test's detector's.
    out = bash(register_and_test.replace("http://127.0.0.1:9091/api", detector), env)
    assert '"total":8' in out and '"ok":true' in out, out
    model = RegisteredModel.objects.get(slug="detector")
    assert (model.kind, model.threshold, model.classes.count()) == ("http", 0.3, 8)

    # Label Studio connects: its /setup names the project and its labels.
    created = int(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())  # the stand-in project's
    setup = {"project": f"42.{created}", "schema": CONFIG, "hostname": ls.url}
    assert requests.post(f"{live_hub.url}/ml/detector/setup", json=setup, timeout=60).status_code == 200
    link = ModelProject.objects.get(model=model)

    # 3-5 with the Hub's id for the project, the job's id, and the stand-in's key.
    script = (
        map_and_preannotate.replace("/projects/7/", f"/projects/{link.project_id}/")
        .replace("export LS_API_KEY=...", f"export LS_API_KEY={TOKEN}")
        .replace("/api/preannotations/3 ", "/api/preannotations/$(ls_job) ")
    )
    newest_job = (
        'ls_job() { command curl -sf "$HUB/api/preannotations?model=detector" -H "Authorization: Bearer $TOKEN"'
        ' | python3 -c \'import json, sys; print(json.load(sys.stdin)["results"][0]["id"])\'; }\n'
    )
    out = bash(newest_job + script, env)
    assert '"ls_project_id":42' in out, out
    circle = ClassMapping.objects.get(model_project=link, model_class__name="circle")
    assert (circle.from_name, circle.label, circle.threshold) == ("label", "Round", 0.5)
    assert not ClassMapping.objects.get(model_project=link, model_class__name="face").is_mapped
    job = PreannotationJob.objects.get()
    assert (job.status, job.model_project_id) == (PreannotationJob.Status.QUEUED, link.pk)

    preannotation_job_run(job.pk, worker="test")  # what the Celery worker does with it
    job.refresh_from_db()
    assert (job.status, job.done) == (PreannotationJob.Status.SUCCEEDED, 4), job.error
    labels = sorted(
        region["value"]["rectanglelabels"][0]
        for task_id in ls.tasks
        for prediction in ls.predictions_of(task_id, "detector@1")
        for region in prediction["result"]
    )
    assert labels == ["Round", "Round", "square", "square"], labels
