"""A pre-annotation job never starves interactive ``/predict`` calls of its model: it holds only its
share of the model server's places, and its threads yield the CPU to the web workers'."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from jobs import services
from jobs.worker import preannotation_job_run
from registry.model_server import background_places
from registry.models import ModelClass, RegisteredModel
from tests.conftest import QuietHandler, register, serving
from tests.jobs.label_studio_stand_in import TOKEN, StandIn, label_studio_stand_in
from tests.jobs.models import PriorityRecorder

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE_CFG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="label" toName="image"><Label value="Object"/></RectangleLabels></View>'
)


class Peak:
    """The model server's calls in flight: now, and the most at any moment."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.calls = 0


def model_server(peak: Peak) -> type[QuietHandler]:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(buffer, format="PNG")
    image = buffer.getvalue()

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # the tasks' images
            self.reply(200, image, "image/png")

        def do_POST(self) -> None:  # V7's infer: 50 ms a call, as many at once as it is sent
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with peak.lock:
                peak.now += 1
                peak.calls += 1
                peak.most = max(peak.most, peak.now)
            time.sleep(0.05)
            with peak.lock:
                peak.now -= 1
            body = {"status": "succeeded", "results": []}
            self.reply(200, json.dumps(body).encode(), "application/json")

    return Handler


@pytest.fixture
def ls() -> Iterator[StandIn]:
    with label_studio_stand_in() as stand_in:
        yield stand_in


def start(ls: StandIn, slug: str) -> Any:
    return services.preannotation_start(
        model_slug=slug, project_id=ls.project_id, label_studio_url=ls.url, api_key=TOKEN
    )


@pytest.mark.parametrize(
    ("places", "share", "job"), [(1, 0.75, 1), (2, 0.75, 1), (4, 0.75, 3), (16, 0.75, 12), (16, 1.0, 15)]
)
def test_a_job_may_hold_its_share_of_the_places_and_always_leaves_one(
    places: int, share: float, job: int, settings: Any
) -> None:
    settings.HUB_PREANNOTATION_MODEL_SHARE = share
    assert background_places(RegisteredModel(max_concurrency=places)) == job


def test_a_job_holds_at_most_its_share_of_the_model_servers_places(ls: StandIn, settings: Any) -> None:
    """Eight places, half of them the job's: it keeps at most four calls in flight, however many tasks
    it has in hand (its batch fans out to sixteen threads), so interactive /predict calls of the same
    model find the server's other places free."""
    settings.HUB_MEDIA_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.HUB_PREANNOTATION_MODEL_SHARE = 0.5
    peak = Peak()
    with serving(model_server(peak)) as server:
        model = RegisteredModel.objects.create(
            name="detector", slug="detector", kind="http", url=f"{server}/infer", max_concurrency=8
        )
        ModelClass.objects.create(model=model, name="object", type="bounding_box")
        ls.label_config = IMAGE_CFG
        ls.add_tasks(64, lambda i: {"image": f"{server}/images/{i}.png"})
        job = start(ls, "detector")
        preannotation_job_run(job.pk, worker="test")
    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == ("succeeded", 64, 0), job.error
    assert peak.calls == 64
    assert 1 < peak.most <= 4, peak.most


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_a_jobs_model_runs_nicer_than_the_web_workers(ls: StandIn, settings: Any) -> None:
    settings.HUB_PREANNOTATION_NICE = 10
    PriorityRecorder.nice_seen.clear()
    register("recorder", "tests.jobs.models.PriorityRecorder")
    ls.add_tasks(30)
    preannotation_job_run(start(ls, "recorder").pk, worker="test")
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert PriorityRecorder.nice_seen
    assert set(PriorityRecorder.nice_seen) == {min(19, own + 10)}, own
