"""What the conformance checks (test_conformance*.py) send: a /setup body and /predict's full params."""

from __future__ import annotations

from typing import Any

from tests.conftest import CFG

FULL_PARAMS = {"login": None, "password": None, "context": None}


def setup_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "project": "7.1700000000",
        "schema": CFG,
        "hostname": "http://localhost:8080",
        "access_token": "abc",
        "extra_params": None,
    }
    return {**body, **overrides}
