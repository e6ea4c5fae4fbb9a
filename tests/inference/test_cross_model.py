"""What one model's callers can see or steer of another model: nothing. A model registered with
"require credentials" beside an open one, on the Django client and a live gunicorn."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from registry.models import RegisteredModel
from tests.conftest import CFG, ProtocolClient
from tests.inference.test_protocol_auth import Authorised

pytestmark = pytest.mark.django_db(transaction=True)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def locked_and_open(protocol: ProtocolClient) -> tuple[ProtocolClient, RegisteredModel]:
    """The credentialed model "locked", the open model "open", and a client with locked's credentials."""
    model = RegisteredModel(
        name="locked",
        slug="locked",
        kind="python",
        import_path="examples.dummy.model.DummyModel",
        protocol_auth_required=True,
        protocol_username="label",
    )
    model.set_protocol_password("studio-pass")
    model.save()
    RegisteredModel.objects.create(
        name="open", slug="open", kind="python", import_path="examples.dummy.model.DummyModel"
    )
    return Authorised(protocol, basic("label", "studio-pass")), model


def test_an_open_models_job_status_does_not_show_another_models_job(
    protocol: ProtocolClient, locked_and_open: Any
) -> None:
    locked_client, _ = locked_and_open
    assert locked_client.post("/ml/locked/setup", {"project": "7.1700000000", "schema": CFG}).status == 200
    job = locked_client.post("/ml/locked/train", {"project": "7.1700000000", "annotations": []}).body["job"]
    assert locked_client.post("/ml/locked/job_status", {"job": job}).body["job_status"] == "queued"
    answer = protocol.post("/ml/open/job_status", {"job": job})
    assert answer.status == 404 and answer.body["code"] == "not_found"
