"""The egress policy as a /predict meets it: refused media gives an empty prediction without asking the
model, and a private Label Studio address named by /setup alone is trusted only when the Hub says so."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from registry.models import LabelStudioInstance, ModelClass, ModelProject, RegisteredModel
from tests.conftest import QuietHandler, serving
from tests.core.conftest import REFUSED, Serve

pytestmark = pytest.mark.usefixtures("short_timeouts")


V7_BOX = {"label": "rectangle", "confidence": 0.9, "bounding_box": {"x": 10, "y": 10, "w": 20, "h": 10}}
CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="boxes" toName="image"><Label value="rectangle"/></RectangleLabels></View>'
)


class ModelServer(QuietHandler):
    calls = 0

    def do_POST(self) -> None:
        ModelServer.calls += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(200, json.dumps({"status": "succeeded", "results": [V7_BOX]}).encode(), "application/json")


@pytest.mark.django_db(transaction=True)
def test_predict_gives_tasks_with_refused_media_an_empty_prediction_and_never_asks_the_model(
    client: Client, serve: Serve
) -> None:
    label_studio, _ = serve()
    internal, internal_media = serve()
    ModelServer.calls = 0
    with serving(ModelServer) as model_server:
        model = RegisteredModel.objects.create(
            name="detector", slug="detector", kind="http", url=model_server + "/infer"
        )
        ModelClass.objects.create(model=model, name="rectangle", type="bounding_box")
        setup = {"project": "3.1700000000", "schema": CONFIG, "hostname": label_studio}
        assert client.post("/ml/detector/setup", setup, content_type="application/json").status_code == 200
        tasks = [
            {"id": 1, "data": {"image": "/data/upload/3/fine.png"}},
            {"id": 2, "data": {"image": internal + "/secret.png"}},
            {"id": 3, "data": {"image": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}},
        ]
        body = {"tasks": tasks, "project": "3.1700000000", "label_config": CONFIG}
        response = client.post("/ml/detector/predict", body, content_type="application/json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [len(r["result"]) for r in results] == [1, 0, 0]
    assert ModelServer.calls == 1 and internal_media.hits == []
    link = ModelProject.objects.get(model=model)
    assert link.errors_total == 2 and REFUSED + " 169.254.169.254:80" in link.last_error


@pytest.mark.django_db(transaction=True)
def test_a_private_label_studio_address_from_setup_alone_is_not_trusted_when_the_hub_says_so(
    client: Client, serve: Serve, settings: Any
) -> None:
    """Whoever reaches a model without credentials can call /setup: with HUB_MEDIA_TRUST_SETUP_HOSTNAME
    off, a loopback "Label Studio" it names is refused until an admin sets the instance's URL."""
    settings.HUB_MEDIA_TRUST_SETUP_HOSTNAME = False
    label_studio, ls_media = serve()
    ModelServer.calls = 0
    with serving(ModelServer) as model_server:
        model = RegisteredModel.objects.create(
            name="detector", slug="detector", kind="http", url=model_server + "/infer", prediction_cache=False
        )
        ModelClass.objects.create(model=model, name="rectangle", type="bounding_box")
        setup = {"project": "3.1700000000", "schema": CONFIG, "hostname": label_studio}
        assert client.post("/ml/detector/setup", setup, content_type="application/json").status_code == 200
        body = {
            "tasks": [{"id": 1, "data": {"image": "/data/upload/3/fine.png"}}],
            "project": "3.1700000000",
            "label_config": CONFIG,
        }

        def boxes() -> int:
            response = client.post("/ml/detector/predict", body, content_type="application/json")
            assert response.status_code == 200
            return len(response.json()["results"][0]["result"])

        assert boxes() == 0 and ls_media.hits == [] and ModelServer.calls == 0
        instance = LabelStudioInstance.objects.get(hostname=label_studio)
        instance.url = label_studio  # the admin vouches for the address
        instance.save()
        assert boxes() == 1 and ls_media.hits == ["/data/upload/3/fine.png"] and ModelServer.calls == 1
