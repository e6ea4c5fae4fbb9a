"""Calls to a registered model's server: its pooled session, credentials, time budget, bulkhead and
circuit breaker."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any

from django.conf import settings

from core import resilience
from core.clients import request_json, session_for
from core.egress import model_host_policy
from core.resilience import CircuitBreaker
from registry.models import AuthMethod, RegisteredModel

# Set while a background job (bulk pre-annotation) calls: its calls hold only the background places.
_background: ContextVar[bool] = ContextVar("background_calls", default=False)


@contextmanager
def background_calls() -> Iterator[None]:
    """Calls to model servers made inside this block (and in pools that carry its context) are a
    background job's: together they hold at most ``background_places`` of the model's calls."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def background_places(model: RegisteredModel) -> int:
    """How many of the model's ``max_concurrency`` calls a background job may hold at once:
    ``HUB_PREANNOTATION_MODEL_SHARE`` of them, always leaving one to interactive ``/predict`` callers
    when the model has more than one, and never fewer than one, so a job always moves."""
    places: int = model.max_concurrency
    share: float = settings.HUB_PREANNOTATION_MODEL_SHARE
    return max(1, min(places - 1, math.floor(places * share)))


@contextmanager
def bulkhead(model: RegisteredModel) -> Iterator[None]:
    """At most ``max_concurrency`` calls to one model server in flight per worker, across requests,
    and of them at most ``background_places`` a background job's (``background_calls``): the job's
    worker is another process than the web workers, so this is what keeps places of the model server
    free for interactive calls while a job runs.
    A call waits for a place at most the longer of ``HUB_BULKHEAD_WAIT_SECONDS`` and the model's
    timeout (the most a call ahead of it may take, so that a batch's own calls never fail each other),
    then fails with ModelBusy. How many requests may wait here at all is admission control's
    (inference/admission.py)."""
    patience = max(settings.HUB_BULKHEAD_WAIT_SECONDS, model.timeout_seconds)
    background: AbstractContextManager[None] = nullcontext()
    if _background.get():
        background = resilience.bulkhead(
            ("model-background", model.pk),
            size=background_places(model),
            patience=patience,
            name=f"Model {model.slug} (for a background job)",
        )
    with (
        background,
        resilience.bulkhead(
            ("model", model.pk), size=model.max_concurrency, patience=patience, name=f"Model {model.slug}"
        ),
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
    (CircuitOpen, without calling, while the server's breaker is open). Under ``HUB_MODEL_HOSTS_ALLOWED``
    every call is checked (EgressRefused), whatever the row says: it may predate the setting."""
    session = session_for(("model", model.pk), pool_size=model.max_concurrency, egress=model_host_policy())
    timeout = (settings.HUB_OUTBOUND_TIMEOUT[0], model.timeout_seconds)
    # The breaker outside the bulkhead: an open breaker answers at once, without queueing for a slot.
    with circuit_breaker(model).guard(), bulkhead(model):
        return request_json(
            session,
            "GET" if payload is None else "POST",
            url,
            json=payload,
            timeout=timeout,
            max_bytes=model.response_bytes_limit,
            **_auth(model),
        )
