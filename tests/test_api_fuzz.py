"""Property-based fuzzing of every operation in /api/schema/ (schemathesis): whatever the input, the Hub
answers without a 5xx, with a status code, content type and body its schema documents. Bounded and
derandomized, so it is quick and gives the same cases on every run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.tokens import api_token_issue
from tests.conftest import register

MODEL = "dummy"
AUTHORIZATION = ""


# Loaded when the module is collected (pytest-django has set Django up; the schema needs no database):
# schemathesis's lazy from_fixture loader does not run under pytest 9.
schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    if path_parameters is None or "slug" not in path_parameters:  # operations without a model in the path
        return st.just(path_parameters)
    # Mostly the registered model, so the fuzz reaches the logic behind its endpoints; sometimes any slug.
    return st.sampled_from([MODEL, MODEL, path_parameters.get("slug")]).map(
        lambda slug: {**path_parameters, "slug": slug}
    )


@pytest.fixture(autouse=True)
def model(db: None) -> Iterator[None]:
    global AUTHORIZATION
    register(MODEL, "examples.dummy.model.DummyModel")
    # The REST API's operations get a read-write token, so the fuzz reaches their validation and logic.
    admin = User.objects.create_superuser("fuzz", "", "pw")
    AUTHORIZATION = "Bearer " + api_token_issue(user=admin, name="fuzz", scope="write", actor="test").secret
    # As Django's own test client does: the handler would close the connection after every request,
    # and with it the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": AUTHORIZATION},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
