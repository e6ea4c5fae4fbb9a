"""Checking a caller's credentials for a model's protocol endpoints, cheaply and without becoming a
lever on the worker's CPU.

The basic-auth password is one a person chose, so it is stored with Django's password hasher
(PBKDF2, made slow on purpose): one check costs a core a quarter of a second. So, per worker:

- a credential that passed is remembered for ``HUB_AUTH_CACHE_SECONDS`` under a keyed digest of the
  model, its stored hash and username, and the credential: a new password or username (or another
  model) never matches an old entry, and no plaintext is kept;
- a client that failed ``HUB_AUTH_FAILURES`` times for a model within
  ``HUB_AUTH_FAILURE_WINDOW_SECONDS`` is answered 429 with ``Retry-After`` before any hashing, until
  its oldest failure leaves the window. A credential it proved before is still accepted.

Connection keys are high-entropy secrets and are stored as SHA-256 (a fast hash fits them); their
failures count towards the same throttle.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict, deque

from django.conf import settings
from rest_framework.exceptions import Throttled

from registry.models import RegisteredModel

# Keys the digests of verified credentials: random per process, so the digests mean nothing elsewhere.
_PROCESS_KEY = secrets.token_bytes(32)
# Bounds on what a worker remembers, whatever callers send.
MAX_VERIFIED = 4096
MAX_TRACKED_CLIENTS = 65_536


class TooManyFailures(Throttled):
    default_detail = "Too many failed credentials from this client for this model; try again later."
    default_code = "throttled"


class CredentialGate:
    """The per-worker memory of verified credentials and recent failures."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verified: OrderedDict[bytes, float] = OrderedDict()
        self._failures: OrderedDict[tuple[str, int], deque[float]] = OrderedDict()
        self._in_flight: dict[tuple[str, int], int] = {}

    def clear(self) -> None:
        with self._lock:
            self._verified.clear()
            self._failures.clear()
            self._in_flight.clear()

    def check_basic(self, model: RegisteredModel, client: str, username: str, password: str) -> bool:
        digest = hmac.digest(
            _PROCESS_KEY,
            "\0".join((str(model.pk), model.protocol_password_hash, model.protocol_username)).encode()
            + b"\0"
            + username.encode("utf-8", "surrogatepass")
            + b"\0"
            + password.encode("utf-8", "surrogatepass"),
            "sha256",
        )
        now = time.monotonic()
        with self._lock:
            expiry = self._verified.get(digest)
            if expiry is not None and expiry > now:
                return True
        self._admit(model, client, now)
        ok = False
        try:
            ok = model.check_protocol_credentials(username, password)
        finally:
            self._settle(model, client, now, ok=ok)
        if ok:
            with self._lock:
                self._verified[digest] = now + settings.HUB_AUTH_CACHE_SECONDS
                self._verified.move_to_end(digest)
                while len(self._verified) > MAX_VERIFIED:
                    self._verified.popitem(last=False)
        return ok

    def check_key(self, model: RegisteredModel, client: str, key: str) -> bool:
        now = time.monotonic()
        self._admit(model, client, now)
        ok = False
        try:
            ok = model.check_connection_key(key)
        finally:
            self._settle(model, client, now, ok=ok)
        return ok

    def _admit(self, model: RegisteredModel, client: str, now: float) -> None:
        """Let one check run, unless this client's recent failures and checks in flight already make
        HUB_AUTH_FAILURES (counting those in flight keeps concurrent guesses within the bound too)."""
        window = settings.HUB_AUTH_FAILURE_WINDOW_SECONDS
        with self._lock:
            key = (client, model.pk)
            failures = self._failures.get(key)
            while failures and failures[0] <= now - window:
                failures.popleft()
            used = len(failures or ()) + self._in_flight.get(key, 0)
            if used >= settings.HUB_AUTH_FAILURES:
                wait = failures[0] + window - now if failures else 1.0
                raise TooManyFailures(wait=max(1, math.ceil(wait)))
            self._in_flight[key] = self._in_flight.get(key, 0) + 1

    def _settle(self, model: RegisteredModel, client: str, now: float, *, ok: bool) -> None:
        key = (client, model.pk)
        with self._lock:
            remaining = self._in_flight.get(key, 1) - 1
            if remaining:
                self._in_flight[key] = remaining
            else:
                self._in_flight.pop(key, None)
            if ok:
                return
            failures = self._failures.setdefault(key, deque(maxlen=max(settings.HUB_AUTH_FAILURES, 1)))
            failures.append(now)
            self._failures.move_to_end(key)
            while len(self._failures) > MAX_TRACKED_CLIENTS:
                self._failures.popitem(last=False)


credential_gate = CredentialGate()
