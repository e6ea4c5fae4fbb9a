"""Models registered with "require credentials": basic auth (what Label Studio sends) or the
connection key in the URL (for its webhook, which sends none). Django client and live gunicorn."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client

from registry.models import RegisteredModel
from tests.conftest import CFG, ProtocolClient, admin_model_form

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINTS = [
    ("GET", "/health", None),
    ("GET", "", None),
    ("POST", "/setup", {"project": "1", "schema": CFG}),
    ("POST", "/predict", {"tasks": [{"id": 1, "data": {"text": "x"}}], "label_config": CFG}),
    ("POST", "/webhook", {"action": "PROJECT_UPDATED"}),
    ("GET", "/versions", None),
    ("GET", "/metrics", None),
]


class Authorised(ProtocolClient):
    """The protocol client with an Authorization header on every call."""

    def __init__(self, inner: Any, header: str) -> None:
        self.inner, self.header, self.kind = inner, header, inner.kind

    def request(self, method: str, path: str, body: Any = None, raw: str | None = None) -> Any:
        if self.kind == "django":
            import json

            data = json.dumps(body) if body is not None else ""
            response = self.inner._client.generic(
                method, path, data, content_type="application/json", HTTP_AUTHORIZATION=self.header
            )
            return self._decode(response.status_code, response.content, dict(response.headers))
        self.inner._session.headers["Authorization"] = self.header
        try:
            return self.inner.request(method, path, body, raw)
        finally:
            del self.inner._session.headers["Authorization"]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def locked(protocol: ProtocolClient) -> tuple[RegisteredModel, str]:
    model = RegisteredModel(
        name="dummy",
        slug="dummy",
        kind="python",
        import_path="examples.dummy.model.DummyModel",
        protocol_auth_required=True,
        protocol_username="label",
    )
    model.set_protocol_password("studio-pass")
    key = model.new_connection_key()
    model.save()
    RegisteredModel.objects.create(
        name="open", slug="open", kind="python", import_path="examples.dummy.model.DummyModel"
    )
    return model, key


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_refuses_callers_without_credentials(
    protocol: ProtocolClient, locked: Any, method: str, path: str, body: Any
) -> None:
    for client in (protocol, Authorised(protocol, basic("label", "wrong")), Authorised(protocol, "Bearer x")):
        answer = client.request(method, "/ml/dummy" + path, body)
        assert answer.status == 401, (client, answer.body)
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="Login required"'
        assert answer.body["code"] == "not_authenticated" and set(answer.body) == {"error", "code"}
    assert protocol.request(method, f"/ml/dummy/k/not-the-key{path}", body).status == 401


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_the_right_credentials_or_key_open_every_endpoint(
    protocol: ProtocolClient, locked: Any, method: str, path: str, body: Any
) -> None:
    _, key = locked
    assert Authorised(protocol, basic("label", "studio-pass")).request(
        method, "/ml/dummy" + path, body
    ).status in (200, 201)
    assert protocol.request(method, f"/ml/dummy/k/{key}{path}", body).status in (200, 201)
    assert protocol.request(method, "/ml/open" + path, body).status in (200, 201)


def test_secrets_are_stored_hashed(protocol: ProtocolClient, locked: Any) -> None:
    model, key = locked
    model.refresh_from_db()
    assert "studio-pass" not in model.protocol_password_hash and model.protocol_password_hash.startswith(
        "pbkdf2_"
    )
    assert key not in model.connection_key_hash and len(model.connection_key_hash) == 64


def test_the_admin_sets_the_password_and_shows_a_new_key_once(
    admin_client: Client, protocol: ProtocolClient
) -> None:
    form = admin_model_form(
        name="Guarded",
        slug="guarded",
        import_path="examples.dummy.model.DummyModel",
        protocol_auth_required="on",
        protocol_username="label",
        protocol_password="pw-123456",
    )
    assert admin_client.post("/admin/registry/registeredmodel/add/", form).status_code == 302
    model = RegisteredModel.objects.get(slug="guarded")
    assert model.check_protocol_credentials("label", "pw-123456") and not model.check_protocol_credentials(
        "label", "x"
    )
    response = admin_client.post(
        "/admin/registry/registeredmodel/",
        {"action": "new_connection_key", "_selected_action": [model.pk]},
    )
    [(_, url)] = response.context["issued"]  # shown on the page (tests/registry/test_connection_key_issue.py)
    key = url.split("/k/")[1]
    model.refresh_from_db()
    assert model.check_connection_key(key)
    # The key the page showed opens the model, on the Django client and on a live server alike.
    assert protocol.get(f"/ml/guarded/k/{key}/health").status == 200
    assert protocol.get("/ml/guarded/health").status == 401
    assert Authorised(protocol, basic("label", "pw-123456")).get("/ml/guarded/health").status == 200
