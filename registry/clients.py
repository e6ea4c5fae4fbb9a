"""The one outbound HTTP module: every call to a model server or to Label Studio goes through here.

Sessions fill in ``settings.HUB_OUTBOUND_TIMEOUT`` when a call passes no timeout, never retry on
their own, and keep pooled keep-alive connections per key (per model server) in each worker.
Failures come back as our exceptions (502/503/504), with messages that name the URL without its
query string and never carry credentials.
"""

from __future__ import annotations

import json as json_module
import threading
import time
from collections.abc import Hashable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from hubsite.errors import UpstreamBadAnswer, UpstreamTimeout, UpstreamUnavailable
from registry.egress import EgressPolicy, PinnedAdapter

USER_AGENT = "wow-ai-hub/0.1"
MAX_REDIRECTS = 3

Timeout = float | tuple[float, float]


class HubSession(requests.Session):
    """With an egress policy, every request it sends (each redirect hop too) is checked and pinned."""

    def __init__(self, pool_size: int = 10, egress: EgressPolicy | None = None) -> None:
        super().__init__()
        options: dict[str, Any] = {
            # read=False: a read timeout surfaces as itself (our 504), not as "max retries" (a 503).
            "pool_connections": 4,
            "pool_maxsize": pool_size,
            "max_retries": Retry(total=0, read=False, redirect=0),
        }
        adapter = PinnedAdapter(egress, **options) if egress else HTTPAdapter(**options)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = USER_AGENT
        # Proxies and .netrc from the environment must not redirect or authenticate model calls.
        self.trust_env = False

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = tuple(settings.HUB_OUTBOUND_TIMEOUT)
        return super().request(method, url, *args, **kwargs)


_sessions: dict[Hashable, HubSession] = {}
_sessions_lock = threading.Lock()


def session_for(key: Hashable, *, pool_size: int = 10, egress: EgressPolicy | None = None) -> HubSession:
    """One pooled session per key (and policy) per worker process, reused across requests."""
    with _sessions_lock:
        session = _sessions.get((key, pool_size, egress))
        if session is None:
            session = _sessions[(key, pool_size, egress)] = HubSession(pool_size=pool_size, egress=egress)
        return session


def _public(url: str) -> str:
    """The URL as messages may show it: no credentials, no query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _send(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    try:
        return session.request(method, url, stream=True, allow_redirects=False, **kwargs)
    except requests.Timeout as exc:
        raise UpstreamTimeout(f"{_public(url)} did not answer in time.") from exc
    except requests.ConnectionError as exc:
        raise UpstreamUnavailable(f"{_public(url)} is unreachable.") from exc
    except requests.RequestException as exc:
        raise UpstreamBadAnswer(f"Calling {_public(url)} failed: {type(exc).__name__}.") from exc


def _read_budget(timeout: Timeout | None) -> float:
    """How long a whole body may take: the call's read timeout, which otherwise bounds each read only."""
    chosen = timeout if timeout is not None else tuple(settings.HUB_OUTBOUND_TIMEOUT)
    return float(chosen[1] if isinstance(chosen, tuple) else chosen)


def _read_limited(response: requests.Response, url: str, max_bytes: int, budget: float) -> bytes:
    """The body, refused past ``max_bytes`` or once ``budget`` seconds have gone by: a server sending
    a byte at a time never trips a per-read timeout."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise UpstreamBadAnswer(f"{_public(url)} sent {declared} bytes, more than the {max_bytes} allowed.")
    deadline = time.monotonic() + budget
    chunks: list[bytes] = []
    size = 0
    try:
        # read1: one read of the socket at a time, so the deadline is looked at between trickles.
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > max_bytes:
                raise UpstreamBadAnswer(f"{_public(url)} sent more than the {max_bytes} bytes allowed.")
            if time.monotonic() > deadline:
                raise UpstreamTimeout(f"{_public(url)} did not finish sending within {budget:g} s.")
            chunks.append(chunk)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise UpstreamTimeout(f"{_public(url)} stopped sending in time.") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise UpstreamUnavailable(f"{_public(url)} broke the connection.") from exc
    finally:
        response.close()
    return b"".join(chunks)


def _require_success(response: requests.Response, url: str) -> None:
    if 200 <= response.status_code < 300:
        return
    response.close()
    reason = " (authentication refused)" if response.status_code in (401, 403) else ""
    raise UpstreamBadAnswer(f"{_public(url)} answered HTTP {response.status_code}{reason}.")


def request_json(
    session: requests.Session,
    method: str,
    url: str,
    *,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: Timeout | None = None,
) -> Any:
    """Send; require 2xx and a JSON body of bounded size; return it parsed."""
    response = _send(session, method, url, json=json, headers=dict(headers or {}), auth=auth, timeout=timeout)
    _require_success(response, url)
    body = _read_limited(response, url, settings.HUB_MAX_UPSTREAM_RESPONSE_BYTES, _read_budget(timeout))
    try:
        return json_module.loads(body)
    except ValueError as exc:
        raise UpstreamBadAnswer(f"{_public(url)} answered with something that is not JSON.") from exc


def fetch_bytes(
    session: requests.Session,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: Timeout | None = None,
    max_bytes: int | None = None,
) -> tuple[bytes, str]:
    """GET a file of bounded size; follow at most three http(s) redirects by hand, dropping the
    Authorization header when one leads to another host (presigned storage URLs must not get it).

    Media sessions carry an egress policy (``session_for(..., egress=...)``): each hop is sent through
    the session, so the policy checks every redirect target before anything connects to it."""
    limit = max_bytes if max_bytes is not None else settings.HUB_MAX_MEDIA_BYTES
    send_headers = dict(headers or {})
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        response = _send(session, "GET", current, headers=send_headers, timeout=timeout)
        if response.is_redirect:
            response.close()
            target = urljoin(current, response.headers.get("Location", ""))
            if urlsplit(target).scheme not in ("http", "https"):
                raise UpstreamBadAnswer(f"{_public(current)} redirected to a non-http location.")
            if urlsplit(target).netloc != urlsplit(current).netloc:
                send_headers.pop("Authorization", None)
            current = target
            continue
        _require_success(response, current)
        content_type = response.headers.get("Content-Type", "application/octet-stream")
        return _read_limited(response, current, limit, _read_budget(timeout)), content_type
    raise UpstreamBadAnswer(f"{_public(url)} redirected more than {MAX_REDIRECTS} times.")
