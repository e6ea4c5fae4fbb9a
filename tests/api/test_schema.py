"""The OpenAPI schema describes every REST operation: a summary, and what it answers when the token is
missing or may not do it, so a caller reading /api/docs/ knows each endpoint without the code."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_every_operation_has_a_summary_and_its_refusals(client: Client) -> None:
    schema = client.get("/api/schema/?format=json").json()
    operations = [
        (method, path, operation)
        for path, methods in schema["paths"].items()
        if path.startswith("/api/") and not path.startswith("/api/schema")
        for method, operation in methods.items()
    ]
    assert len(operations) >= 25
    for method, path, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert {"401", "403"} <= set(operation["responses"]), where
        if "{" in path:  # an id or slug that names nothing is a 404, which the fuzz test holds it to
            assert "404" in operation["responses"], where
        refusals = {code: answer for code, answer in operation["responses"].items() if code >= "400"}
        assert all(answer.get("description") for answer in refusals.values()), where
        assert operation.get("security") != [{}], where  # never documented as open
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] not in {"page", "page_size"}:
                assert "schema" in parameter, (where, parameter["name"])
