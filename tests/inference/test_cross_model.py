"""What one model's callers can see or steer of another model: nothing. A model registered with
"require credentials" beside an open one, on the Django client and a live gunicorn."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image

from inference.kinds.python.loading import label_studio_of
from registry.models import ModelProject, RegisteredModel
from tests.conftest import CFG, ProtocolClient, QuietHandler, serving
from tests.inference.test_protocol_auth import Authorised, basic, locked

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["locked"]  # the fixture: "dummy" needs basic auth (label / studio-pass), "open" does not


@pytest.fixture
def locked_client(protocol: ProtocolClient, locked: Any) -> ProtocolClient:
    return Authorised(protocol, basic("label", "studio-pass"))


def test_an_open_models_job_status_does_not_show_another_models_job(
    protocol: ProtocolClient, locked_client: ProtocolClient
) -> None:
    assert locked_client.post("/ml/dummy/setup", {"project": "7.1700000000", "schema": CFG}).status == 200
    job = locked_client.post("/ml/dummy/train", {"project": "7.1700000000", "annotations": []}).body["job"]
    assert locked_client.post("/ml/dummy/job_status", {"job": job}).body["job_status"] == "queued"
    answer = protocol.post("/ml/open/job_status", {"job": job})
    assert answer.status == 404 and answer.body["code"] == "not_found"


REAL_TOKEN, ATTACKER_TOKEN = "real-ls-token", "attacker-token"
IMAGE_CFG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="boxes" toName="image"><Label value="Box"/></RectangleLabels></View>'
)
DOC_CFG = '<View><Text name="text" value="$doc"/><TextArea name="note" toName="text"/></View>'


class LabelStudioStandIn(QuietHandler):
    """Serves uploads to whoever brings its token, and records every request (the real one and the
    attacker's share this class; each server's hits are told apart by port)."""

    hits: list[tuple[int, str, str]] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        LabelStudioStandIn.hits.append((getattr(self.server, "server_port", 0), self.path, auth))
        if self.path.endswith(".png"):
            buffer = io.BytesIO()
            Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
            self.reply(200, buffer.getvalue(), "image/png")
        else:
            self.reply(200, b"document text", "text/plain")

    def do_POST(self) -> None:  # the V7 model server
        self.rfile.read(int(self.headers["Content-Length"]))
        self.reply(200, b'{"status": "succeeded", "results": []}', "application/json")


@pytest.fixture
def servers() -> Iterator[tuple[str, str]]:
    LabelStudioStandIn.hits = []
    with serving(LabelStudioStandIn) as real, serving(LabelStudioStandIn) as attacker:
        yield real, attacker


def credentialed(slug: str, **fields: Any) -> RegisteredModel:
    model = RegisteredModel(
        name=slug, slug=slug, protocol_auth_required=True, protocol_username="ls", **fields
    )
    model.set_protocol_password("pw")
    model.save()
    return model


@pytest.mark.parametrize("kind", ["http", "python"])
def test_setup_on_an_open_model_cannot_steer_a_credentialed_models_media(
    protocol: ProtocolClient, locked: Any, servers: tuple[str, str], kind: str
) -> None:
    """Label Studio sets up the credentialed model; then someone calls /setup on the open model with the
    same project uid, their own host and token (and, again, the real host with their token). The
    credentialed model's next /predict still fetches from the real Label Studio with its token."""
    real, attacker = servers
    if kind == "http":
        credentialed("guarded", kind="http", url=f"{real}/infer")
        config, task = IMAGE_CFG, {"id": 1, "data": {"image": "/data/upload/1/a.png"}}
    else:
        credentialed("guarded", kind="python", import_path="tests.models.media.FileLengthModel")
        # A name of its own: the SDK keeps downloads in the data directory's media cache.
        config, task = DOC_CFG, {"id": 1, "data": {"doc": f"/data/upload/1/{uuid.uuid4().hex}.txt"}}
    label_studio = Authorised(protocol, basic("ls", "pw"))
    uid = "1.1700000000"
    setup = {"project": uid, "schema": config, "hostname": real, "access_token": REAL_TOKEN}
    assert label_studio.post("/ml/guarded/setup", setup).status == 200
    for hostname in (attacker, real):
        forged = {**setup, "hostname": hostname, "access_token": ATTACKER_TOKEN}
        assert protocol.post("/ml/open/setup", forged).status == 200  # open: anyone may call it

    answer = label_studio.post(
        "/ml/guarded/predict", {"project": uid, "label_config": config, "tasks": [task]}
    )
    assert answer.status == 200, answer.body
    attacker_port, real_port = urlsplit(attacker).port, urlsplit(real).port
    assert [hit for hit in LabelStudioStandIn.hits if hit[0] == attacker_port] == []
    fetched = [(path, auth) for port, path, auth in LabelStudioStandIn.hits if port == real_port]
    assert fetched and all(auth == f"Token {REAL_TOKEN}" for _, auth in fetched), fetched
    assert label_studio_of(ModelProject.objects.get(model__slug="guarded").pk) == (real, REAL_TOKEN, True)


HIJACKED_CFG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Hijacked"/></Choices></View>'
)


def test_setup_on_an_open_model_cannot_change_the_label_config_a_credentialed_model_sees(
    protocol: ProtocolClient, locked_client: ProtocolClient
) -> None:
    """Label Studio sets up the credentialed model with its config; someone calls the open model's /setup
    with the same project (uid and host) and a config of their own. What the credentialed model's callers
    get, and what its training is given, still follow the config its own /setup sent."""
    setup = {"project": "1.1700000000", "schema": CFG, "hostname": "http://ls.example"}
    assert locked_client.post("/ml/dummy/setup", setup).status == 200
    assert protocol.post("/ml/open/setup", {**setup, "schema": HIJACKED_CFG}).status == 200

    task = {"id": 1, "data": {"text": "hello"}}
    answer = locked_client.post("/ml/dummy/predict", {"project": "1.1700000000", "tasks": [task]})
    assert answer.status == 200, answer.body
    assert answer.body["results"][0]["result"][0]["value"] == {"choices": ["Positive"]}
    # The open model sees the config its own caller sent.
    opened = protocol.post("/ml/open/predict", {"project": "1.1700000000", "tasks": [task]})
    assert opened.body["results"][0]["result"][0]["value"] == {"choices": ["Hijacked"]}
    link = ModelProject.objects.get(model__slug="dummy")
    assert link.label_config == CFG  # what its training is given (inference/kinds/python/training.py)
