"""HUB_MODEL_HOSTS_ALLOWED, the operator's allow-list of model server hosts: a model whose server is
elsewhere is refused when registered (the one rule the admin, the CLI and the REST API run) with an
error on its field (the REST API's: tests/api/test_models_api.py), and a row written before the setting, or a redirect, reaches no host outside it:
every call is checked. Unset, model servers may be anywhere. Real servers on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from registry.models import RegisteredModel
from registry.registration import registered_model_create
from tests.conftest import QuietHandler, serving
from tests.inference.test_hostile_answers import CONFIG, image_of_width

pytestmark = pytest.mark.django_db(transaction=True)

ALLOWED = ["*.gpu.example.com", "gpu1:9091", "127.0.0.0/8"]


class ModelServer(QuietHandler):
    """A V7 model server that records its calls; on /moved it redirects to the URL in ``target``."""

    calls: list[str] = []
    target = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        ModelServer.calls.append(self.path)
        if self.path == "/moved":
            self.send_response(307)
            self.send_header("Location", ModelServer.target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.reply(200, b'{"status": "succeeded", "results": []}', "application/json")


@pytest.fixture
def model_server() -> Iterator[str]:
    ModelServer.calls = []
    with serving(ModelServer) as url:
        yield url


def external(slug: str, url: str) -> dict[str, Any]:
    return {"name": slug, "slug": slug, "kind": "http", "url": url}


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://a.gpu.example.com:9091/infer", True),  # a name entry: not resolved, it may not be up yet
        ("http://gpu1:9091/infer", True),
        ("http://127.0.0.1:9091/infer", True),
        ("http://gpu1:8080/infer", False),  # another port than the entry's
        ("http://gpu.example.com/infer", False),  # *.domain is the names under it, not the domain
        ("http://10.9.0.1:9091/infer", False),
        ("http://[::1]:9091/infer", False),
    ],
)
def test_registering_a_model_server_outside_the_list_is_a_field_error(
    settings: Any, url: str, allowed: bool
) -> None:
    settings.HUB_MODEL_HOSTS_ALLOWED = ALLOWED
    if allowed:
        registered_model_create(actor=None, **external("m", url))
        return
    with pytest.raises(ValidationError) as refused:
        registered_model_create(actor=None, **external("m", url))
    assert "HUB_MODEL_HOSTS_ALLOWED" in " ".join(refused.value.message_dict["url"])
    assert not RegisteredModel.objects.exists()


def predict(slug: str) -> dict[str, Any]:
    task = {"id": 1, "data": {"image": image_of_width(10)}}
    body = {"tasks": [task], "project": "1.1700000000", "label_config": CONFIG}
    response = Client().post(f"/ml/{slug}/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_a_model_registered_before_the_list_reaches_no_host_outside_it(
    settings: Any, model_server: str
) -> None:
    RegisteredModel.objects.create(**external("old", f"{model_server}/infer"))  # no list then
    settings.HUB_MODEL_HOSTS_ALLOWED = ["10.8.0.0/16"]
    assert predict("old")["results"] == [{"result": [], "score": 0.0, "model_version": "old@1"}]
    assert ModelServer.calls == []  # refused before connecting
    model = RegisteredModel.objects.get(slug="old")
    assert model.errors_total == 1 and "HUB_MODEL_HOSTS_ALLOWED" in model.last_error

    settings.HUB_MODEL_HOSTS_ALLOWED = ["127.0.0.1"]
    predict("old")
    assert ModelServer.calls == ["/infer"]


def test_a_redirect_never_takes_a_call_to_another_host(settings: Any, model_server: str) -> None:
    with serving(ModelServer) as elsewhere:
        ModelServer.target = f"{elsewhere}/infer"
        settings.HUB_MODEL_HOSTS_ALLOWED = ["127.0.0.1"]
        RegisteredModel.objects.create(**external("moved", f"{model_server}/moved"))
        assert predict("moved")["results"][0]["result"] == []
        assert ModelServer.calls == ["/moved"]  # the redirect is not followed
        # Nor taken for an answer: only a 2xx counts.
        assert "answered HTTP 307" in RegisteredModel.objects.get(slug="moved").last_error
