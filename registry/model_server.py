"""Calls to a registered model's server: its pooled session, credentials, time budget, bulkhead and
circuit breaker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from hubsite.errors import CircuitOpen, ModelBusy
from registry.clients import request_json, session_for
from registry.models import AuthMethod, RegisteredModel

_bulkheads: dict[tuple[int, int], threading.BoundedSemaphore] = {}
_bulkheads_lock = threading.Lock()


@contextmanager
def bulkhead(model: RegisteredModel) -> Iterator[None]:
    """At most ``max_concurrency`` calls to one model server in flight per worker, across requests.
    A call waits for a place at most the longer of ``HUB_BULKHEAD_WAIT_SECONDS`` and the model's
    timeout (the most a call ahead of it may take, so that a batch's own calls never fail each other),
    then fails with ModelBusy. How many requests may wait here at all is admission control's
    (inference/admission.py)."""
    key = (model.pk, model.max_concurrency)
    with _bulkheads_lock:
        semaphore = _bulkheads.setdefault(key, threading.BoundedSemaphore(model.max_concurrency))
    patience = max(settings.HUB_BULKHEAD_WAIT_SECONDS, model.timeout_seconds)
    if not semaphore.acquire(timeout=patience):
        raise ModelBusy(
            f"Model {model.slug} is busy: no place among its {model.max_concurrency} concurrent calls "
            f"came free within {patience:g} s.",
            wait=settings.HUB_BUSY_RETRY_AFTER_SECONDS,
        )
    try:
        yield
    finally:
        semaphore.release()


@dataclass
class CircuitBreaker:
    """Closed: calls go through. ``HUB_BREAKER_FAILURES`` failed calls in a row open it: calls are
    refused at once for ``HUB_BREAKER_COOLDOWN_SECONDS``, then one probe call goes through while
    the others are still refused; the probe's success closes it, its failure opens it again."""

    slug: str
    failures: int = 0  # in a row
    opened_at: float | None = None  # time.monotonic() of the last opening; None when closed
    probing: bool = False
    last_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _refusal(self) -> CircuitOpen | None:
        """Why a call now would be refused, if it would; call with the lock held."""
        if self.opened_at is None:
            return None
        last = self.last_error.rstrip(".")
        reason = f"The server of model {self.slug} failed {self.failures} calls in a row (last: {last})"
        if self.probing:
            return CircuitOpen(f"{reason}; a probe call is under way.")
        remaining = self.opened_at + settings.HUB_BREAKER_COOLDOWN_SECONDS - time.monotonic()
        if remaining > 0:
            return CircuitOpen(f"{reason}; the Hub calls it again in {remaining:.1f} s.")
        return None

    def check(self) -> None:
        """Raise CircuitOpen if a call now would be refused (without taking the probe's place)."""
        with self._lock:
            refusal = self._refusal()
        if refusal is not None:
            raise refusal

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Around one call: refuse it while open, count how it ended."""
        with self._lock:
            refusal = self._refusal()
            if refusal is not None:
                raise refusal
            probe = self.opened_at is not None
            if probe:
                self.probing = True
        try:
            yield
        except ModelBusy:
            # The call never reached the server: nothing to learn about it.
            if probe:
                with self._lock:
                    self.probing = False
            raise
        except Exception as exc:
            self._ended(probe, failure=str(getattr(exc, "detail", exc)) or type(exc).__name__)
            raise
        self._ended(probe, failure=None)

    def _ended(self, probe: bool, failure: str | None) -> None:
        with self._lock:
            if probe:
                self.probing = False
            if failure is None:
                self.failures, self.opened_at = 0, None
                return
            self.failures += 1
            self.last_error = failure
            # Only a success resets the count, so a failed probe opens the breaker again.
            if self.failures >= settings.HUB_BREAKER_FAILURES:
                self.opened_at = time.monotonic()


_breakers: dict[int, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def circuit_breaker(model: RegisteredModel) -> CircuitBreaker:
    """The breaker of one model server in this worker process."""
    with _breakers_lock:
        return _breakers.setdefault(model.pk, CircuitBreaker(slug=model.slug))


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
