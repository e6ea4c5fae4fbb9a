"""No secret reaches a log line or an error body: model server credentials, Label Studio's token, the
protocol password and the connection key in ``/ml/<slug>/k/<key>``, through working and failing calls
(model server 401 and 500, unreachable, media refused, wrong credentials, unknown endpoints), on the
Django client with every logger at DEBUG and on a live gunicorn Hub with its access log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from registry.models import AuthMethod, RegisteredModel
from tests.conftest import ProtocolClient, QuietHandler, serving
from tests.inference.test_protocol_auth import Authorised, basic
from tests.live import LiveHub
from tests.processes import free_port

pytestmark = pytest.mark.django_db(transaction=True)

HEADER_SECRET = "hdr-secret-a1b2c3d4e5"
BASIC_PASSWORD = "basic-pass-f6g7h8i9j0"
LS_TOKEN = "ls-token-k1l2m3n4o5"
PROTOCOL_PASSWORD = "proto-pass-p6q7r8s9t0"
WRONG_PASSWORD = "wrong-pass-u1v2w3x4y5"
IMAGE_CFG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="boxes" toName="image"><Label value="Car"/></RectangleLabels></View>'
)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return buffer.getvalue()


class ModelServerAndLabelStudio(QuietHandler):
    """A model server (POST) that fails as told, echoing the credentials it got into its error bodies,
    and a Label Studio (GET) serving media to its token only."""

    mode = "ok"
    credentials_seen: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        got = f"{self.headers.get('X-Model-Key', '')} {self.headers.get('Authorization', '')}"
        ModelServerAndLabelStudio.credentials_seen.append(got)
        if self.mode == "ok":
            self.reply(200, b'{"status": "succeeded", "results": []}', "application/json")
        else:
            status = 401 if self.mode == "unauthorized" else 500
            self.reply(
                status, json.dumps({"detail": f"refused credentials {got}"}).encode(), "application/json"
            )

    def do_GET(self) -> None:
        ModelServerAndLabelStudio.credentials_seen.append(self.headers.get("Authorization", ""))
        if self.headers.get("Authorization") == f"Token {LS_TOKEN}" and self.path.startswith("/data/upload/"):
            self.reply(200, png(), "image/png")
        else:
            self.reply(403, f"forbidden for {self.headers.get('Authorization')}".encode(), "text/plain")


@pytest.fixture
def stand_in() -> Iterator[str]:
    ModelServerAndLabelStudio.mode = "ok"
    ModelServerAndLabelStudio.credentials_seen = []
    with serving(ModelServerAndLabelStudio) as url:
        yield url


def http_model(slug: str, url: str, **fields: Any) -> RegisteredModel:
    return RegisteredModel(name=slug, slug=slug, kind="http", url=url, timeout_seconds=5, **fields)


def register_models(server: str) -> str:
    """Three model servers with credentials; returns the connection key of the guarded one."""
    guarded = http_model(
        "guarded",
        f"{server}/infer",
        auth_method=AuthMethod.HEADER,
        auth_header_name="X-Model-Key",
        auth_secret=HEADER_SECRET,
        protocol_auth_required=True,
        protocol_username="ls",
    )
    guarded.set_protocol_password(PROTOCOL_PASSWORD)
    key = guarded.new_connection_key()
    guarded.save()
    http_model(
        "basic",
        f"{server}/infer",
        auth_method=AuthMethod.BASIC,
        auth_username="hub",
        auth_secret=BASIC_PASSWORD,
    ).save()
    http_model(
        "gone",
        f"http://127.0.0.1:{free_port()}/infer",
        auth_method=AuthMethod.HEADER,
        auth_header_name="X-Model-Key",
        auth_secret=HEADER_SECRET,
    ).save()
    return key


def run_flow(protocol: ProtocolClient, server: str, key: str) -> list[Any]:
    """Every call that handles a secret, working and failing; returns the answers' bodies."""
    with_password = Authorised(protocol, basic("ls", PROTOCOL_PASSWORD))
    wrong_password = Authorised(protocol, basic("ls", WRONG_PASSWORD))
    project = {"project": "1.1700000000", "schema": IMAGE_CFG, "hostname": server, "access_token": LS_TOKEN}
    predict = {
        "project": "1.1700000000",
        "label_config": IMAGE_CFG,
        "tasks": [{"id": 1, "data": {"image": "/data/upload/1/a.png"}}],
    }
    refused_media = {**predict, "tasks": [{"id": 2, "data": {"image": "/data/private/b.png"}}]}
    answers = [
        protocol.post(f"/ml/guarded/k/{key}/setup", project),
        with_password.post("/ml/guarded/setup", project),
        wrong_password.post("/ml/guarded/setup", project),
        wrong_password.get("/ml/guarded/health"),
        protocol.get(f"/ml/guarded/k/{key}/no-such-endpoint"),
        protocol.get(f"/ml/guarded/k/{key}"),
        protocol.post(f"/ml/guarded/k/{key}/predict", predict),
        protocol.post(f"/ml/guarded/k/{key}/predict", refused_media),
        protocol.post(f"/ml/guarded/k/{key}/predict", {"tasks": "not a list"}),
        protocol.post("/ml/basic/setup", project),
        protocol.post("/ml/basic/predict", predict),
        protocol.post("/ml/gone/setup", project),
        protocol.post("/ml/gone/predict", predict),
    ]
    for mode in ("unauthorized", "broken"):
        ModelServerAndLabelStudio.mode = mode
        answers += [
            protocol.post(f"/ml/guarded/k/{key}/predict", predict),
            protocol.post("/ml/basic/predict", predict),
        ]
    ModelServerAndLabelStudio.mode = "ok"
    assert answers[0].status == 200 and answers[2].status == 401 and answers[4].status == 404
    # The secrets really travelled: the model server got its credentials and Label Studio its token.
    seen = " ".join(ModelServerAndLabelStudio.credentials_seen)
    assert HEADER_SECRET in seen and f"Token {LS_TOKEN}" in seen and "Basic " in seen
    return [answer.body for answer in answers]


def assert_no_secret(text: str, key: str) -> None:
    for secret in (HEADER_SECRET, BASIC_PASSWORD, LS_TOKEN, PROTOCOL_PASSWORD, WRONG_PASSWORD, key):
        assert secret not in text, f"{secret!r} leaked: ...{text[max(text.find(secret) - 200, 0) :][:400]}..."


def test_no_secret_in_logs_or_error_bodies(
    protocol: ProtocolClient, stand_in: str, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    key = register_models(stand_in)
    if protocol.kind == "django":
        caplog.set_level(logging.DEBUG)
        bodies = run_flow(protocol, stand_in, key)
        logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    else:
        hub: LiveHub = request.getfixturevalue("live_hub")
        start = hub.log.stat().st_size
        bodies = run_flow(protocol, stand_in, key)
        with hub.log.open() as log:
            log.seek(start)
            logged = log.read()
    assert_no_secret(logged, key)
    assert_no_secret(json.dumps(bodies), key)
    # What was checked is the real log: the request log names failing paths, the key masked...
    assert "Not Found: /ml/guarded/k/***/no-such-endpoint" in logged
    if protocol.kind == "live":  # ...and so does gunicorn's access log
        assert 'GET /ml/guarded/k/***/no-such-endpoint HTTP/1.1" 404' in logged


def test_no_secret_in_the_admins_connection_checks(admin_client: Client, stand_in: str, caplog: Any) -> None:
    key = register_models(stand_in)
    caplog.set_level(logging.DEBUG)
    pages = []
    for mode in ("ok", "unauthorized", "broken"):
        ModelServerAndLabelStudio.mode = mode
        for action in ("test_connection", "fetch_classes"):
            response = admin_client.post(
                "/admin/registry/registeredmodel/",
                {
                    "action": action,
                    "_selected_action": list(RegisteredModel.objects.values_list("pk", flat=True)),
                },
                follow=True,
            )
            pages.append(" ".join(str(m) for m in response.context["messages"]))
    assert any("401" in page for page in pages)  # the failures were reported
    assert_no_secret("\n".join(pages), key)
    assert_no_secret(caplog.text, key)
