"""Calls to a registered model's server: its pooled session, credentials, time budget, bulkhead and
circuit breaker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from core import resilience
from core.clients import request_json, session_for
from core.resilience import CircuitBreaker
from registry.models import AuthMethod, RegisteredModel


@contextmanager
def bulkhead(model: RegisteredModel) -> Iterator[None]:
    """At most ``max_concurrency`` calls to one model server in flight per worker, across requests.
    A call waits for a place at most the longer of ``HUB_BULKHEAD_WAIT_SECONDS`` and the model's
    timeout (the most a call ahead of it may take, so that a batch's own calls never fail each other),
    then fails with ModelBusy. How many requests may wait here at all is admission control's
    (inference/admission.py)."""
    patience = max(settings.HUB_BULKHEAD_WAIT_SECONDS, model.timeout_seconds)
    with resilience.bulkhead(
        ("model", model.pk), size=model.max_concurrency, patience=patience, name=f"Model {model.slug}"
    ):
        yield


def circuit_breaker(model: RegisteredModel) -> CircuitBreaker:
    """The breaker of one model server in this worker process."""
    return resilience.breaker_for(("model", model.pk), subject=f"The server of model {model.slug}")


def _auth(model: RegisteredModel) -> dict[str, Any]:
    if model.auth_method == AuthMethod.BASIC:
        return {"auth": (model.auth_username, model.auth_secret)}
    if model.auth_method == AuthMethod.HEADER:
        return {"headers": {model.auth_header_name: model.auth_secret}}
    return {}


def model_server_call(model: RegisteredModel, url: str, payload: dict[str, Any] | None = None) -> Any:
    """GET (no payload) or POST JSON to the model server; the parsed JSON answer, or our Upstream* errors
    (CircuitOpen, without calling, while the server's breaker is open)."""
    session = session_for(("model", model.pk), pool_size=model.max_concurrency)
    timeout = (settings.HUB_OUTBOUND_TIMEOUT[0], model.timeout_seconds)
    # The breaker outside the bulkhead: an open breaker answers at once, without queueing for a slot.
    with circuit_breaker(model).guard(), bulkhead(model):
        return request_json(
            session, "GET" if payload is None else "POST", url, json=payload, timeout=timeout, **_auth(model)
        )
