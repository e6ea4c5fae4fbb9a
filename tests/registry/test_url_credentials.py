"""Credentials written into a model server's URL (``http://user:pass@host/...``) become its basic auth
when it is saved, by the admin or by the service the CLI calls: the stored URL, the admin's pages and
the audit log never carry them, and the model server still gets them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from django.test import Client

from registry.models import AuditEvent, AuthMethod, RegisteredModel
from registry.services import registered_model_register
from tests.conftest import QuietHandler, admin_model_form, serving

pytestmark = pytest.mark.django_db(transaction=True)

USER, PASSWORD = "det@user", "s3cr:t-pa55"
USERINFO = "det%40user:s3cr%3At-pa55@"


class ModelServer(QuietHandler):
    seen: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        ModelServer.seen.append(self.headers.get("Authorization", ""))
        self.reply(200, b'{"status": "succeeded", "results": []}', "application/json")


@pytest.fixture
def server() -> Iterator[str]:
    ModelServer.seen = []
    with serving(ModelServer) as url:
        yield url


def with_credentials(url: str) -> str:
    return url.replace("http://", "http://" + USERINFO, 1)


def assert_never_shown(*texts: str) -> None:
    for text in texts:
        assert "s3cr" not in text and USERINFO not in text, text[:2000]


def test_the_admin_moves_url_credentials_into_basic_auth_and_never_shows_them(
    admin_client: Client, server: str
) -> None:
    form = admin_model_form(
        name="Detector",
        slug="detector",
        kind="http",
        url=with_credentials(server) + "/infer",
        classes_url=with_credentials(server) + "/classes",
    )
    assert admin_client.post("/admin/registry/registeredmodel/add/", form).status_code == 302
    model = RegisteredModel.objects.get(slug="detector")
    assert (model.url, model.classes_url) == (f"{server}/infer", f"{server}/classes")
    assert (model.auth_method, model.auth_username, model.auth_secret) == (AuthMethod.BASIC, USER, PASSWORD)
    page = admin_client.get(f"/admin/registry/registeredmodel/{model.pk}/change/").content.decode()
    listing = admin_client.get("/admin/registry/registeredmodel/").content.decode()
    assert_never_shown(page, listing, json.dumps(list(AuditEvent.objects.values("object_repr", "changes"))))
    # The model server still gets them, as basic auth.
    admin_client.post(
        "/admin/registry/registeredmodel/", {"action": "test_connection", "_selected_action": [model.pk]}
    )
    assert ModelServer.seen == ["Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()]


def test_the_register_service_the_cli_calls_moves_them_too(server: str) -> None:
    model, created = registered_model_register(
        name="Detector", slug="detector", kind="http", url=with_credentials(server) + "/infer"
    )
    assert created and model.url == f"{server}/infer"
    model.refresh_from_db()
    assert (model.auth_method, model.auth_username, model.auth_secret) == (AuthMethod.BASIC, USER, PASSWORD)
    assert_never_shown(json.dumps(list(AuditEvent.objects.values("object_repr", "changes"))))


def test_url_credentials_beside_a_secret_header_are_refused(admin_client: Client, server: str) -> None:
    form = admin_model_form(
        name="Detector",
        slug="detector",
        kind="http",
        url=with_credentials(server) + "/infer",
        auth_method="header",
        auth_header_name="X-Key",
        auth_secret="header-secret",
    )
    response = admin_client.post("/admin/registry/registeredmodel/add/", form)
    assert response.status_code == 200 and not RegisteredModel.objects.exists()
    assert "carries credentials" in " ".join(response.context["adminform"].form.errors["url"])
