"""Checking a caller's credentials for a model's protocol endpoints, cheaply and without becoming a
lever on the worker's CPU.

The basic-auth password is one a person chose, so it is stored with Django's password hasher
(PBKDF2, made slow on purpose): one check costs a core a quarter of a second. So, per worker:

- a credential that passed is remembered for ``HUB_AUTH_CACHE_SECONDS`` under a keyed digest of the
  model, its stored hash and username, and the credential: a new password or username (or another
  model) never matches an old entry, and no plaintext is kept;
- a client that failed ``HUB_AUTH_FAILURES`` times for a model within
  ``HUB_AUTH_FAILURE_WINDOW_SECONDS`` is answered 429 with ``Retry-After`` before any hashing, until
  its oldest failure leaves the window (``core.throttle``, the rule the REST API's tokens use too).
  A credential it proved before is still accepted.

Connection keys are high-entropy secrets and are stored as SHA-256 (a fast hash fits them); their
failures count towards the same throttle.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from django.conf import settings
from rest_framework.exceptions import Throttled

from core.throttle import FailureThrottle
from registry.models import RegisteredModel

# Keys the digests of verified credentials: random per process, so the digests mean nothing elsewhere.
_PROCESS_KEY = secrets.token_bytes(32)
# A bound on what a worker remembers, whatever callers send.
MAX_VERIFIED = 4096


class TooManyFailures(Throttled):
    default_detail = "Too many failed credentials from this client for this model; try again later."
    default_code = "throttled"


class CredentialGate:
    """The per-worker memory of verified credentials, and the throttle of failures per client and model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verified: OrderedDict[bytes, float] = OrderedDict()
        self._failures = FailureThrottle(
            lambda: settings.HUB_AUTH_FAILURES, lambda: settings.HUB_AUTH_FAILURE_WINDOW_SECONDS
        )

    def clear(self) -> None:
        with self._lock:
            self._verified.clear()
        self._failures.clear()

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
        ok = self._throttled_check(
            model, client, lambda: model.check_protocol_credentials(username, password)
        )
        if ok:
            with self._lock:
                self._verified[digest] = now + settings.HUB_AUTH_CACHE_SECONDS
                self._verified.move_to_end(digest)
                while len(self._verified) > MAX_VERIFIED:
                    self._verified.popitem(last=False)
        return ok

    def check_key(self, model: RegisteredModel, client: str, key: str) -> bool:
        return self._throttled_check(model, client, lambda: model.check_connection_key(key))

    def _throttled_check(self, model: RegisteredModel, client: str, check: Callable[[], bool]) -> bool:
        key = (client, model.pk)
        wait = self._failures.admit(key)
        if wait:
            raise TooManyFailures(wait=wait)
        ok = False
        try:
            ok = check()
        finally:
            self._failures.settle(key, ok=ok)
        return ok


credential_gate = CredentialGate()
