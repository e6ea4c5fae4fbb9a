from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.http import HttpRequest
from django.test import Client

from registry.models import RegisteredModel

pytestmark = pytest.mark.django_db


def test_gateway_health_touches_the_database(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "UP", "database": "ok"}

    def database_down(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(database_down):
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"


def test_openapi_schema_and_docs_are_served(client: Client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/ml/{slug}/predict", "/ml/{slug}/setup", "/ml/{slug}/webhook"} <= set(paths)
    assert client.get("/api/docs/").status_code == 200


def test_quickstart_creates_an_admin_and_registers_the_examples_once(
    settings: Any, tmp_path: Path, capsys: Any
) -> None:
    settings.DATA_DIR = tmp_path
    call_command("quickstart")
    first = capsys.readouterr().out
    assert "log in as 'admin' with password" in first
    assert "http://localhost:9090/ml/text-classifier" in first
    assert (tmp_path / "admin-password").exists()
    call_command("quickstart")
    second = capsys.readouterr().out
    assert "Already registered: text-classifier" in second and "Admin user exists" in second
    assert sorted(RegisteredModel.objects.values_list("slug", flat=True)) == [
        "asr",
        "dummy",
        "ner-interactive",
        "text-classifier",
    ]
    password = (tmp_path / "admin-password").read_text().strip()
    assert Client().login(request=HttpRequest(), username="admin", password=password)
