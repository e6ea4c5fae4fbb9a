"""Calls to a registered model's server: its pooled session, credentials, time budget and bulkhead."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from registry.clients import request_json, session_for
from registry.models import AuthMethod, RegisteredModel

_bulkheads: dict[tuple[int, int], threading.BoundedSemaphore] = {}
_bulkheads_lock = threading.Lock()


@contextmanager
def bulkhead(model: RegisteredModel) -> Iterator[None]:
    """At most ``max_concurrency`` calls to one model server in flight per worker, across requests,
    so that one slow server cannot take every thread of the worker."""
    key = (model.pk, model.max_concurrency)
    with _bulkheads_lock:
        semaphore = _bulkheads.setdefault(key, threading.BoundedSemaphore(model.max_concurrency))
    with semaphore:
        yield


def _auth(model: RegisteredModel) -> dict[str, Any]:
    if model.auth_method == AuthMethod.BASIC:
        return {"auth": (model.auth_username, model.auth_secret)}
    if model.auth_method == AuthMethod.HEADER:
        return {"headers": {model.auth_header_name: model.auth_secret}}
    return {}


def model_server_call(model: RegisteredModel, url: str, payload: dict[str, Any] | None = None) -> Any:
    """GET (no payload) or POST JSON to the model server; the parsed JSON answer, or our Upstream* errors."""
    session = session_for(("model", model.pk), pool_size=model.max_concurrency)
    timeout = (settings.HUB_OUTBOUND_TIMEOUT[0], model.timeout_seconds)
    with bulkhead(model):
        return request_json(
            session, "GET" if payload is None else "POST", url, json=payload, timeout=timeout, **_auth(model)
        )
