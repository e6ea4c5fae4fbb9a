"""What one model's callers can see or steer of another model: nothing. A model registered with
"require credentials" beside an open one, on the Django client and a live gunicorn."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import CFG, ProtocolClient
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
