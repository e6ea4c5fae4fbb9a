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
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import certifi
import urllib3
from django.conf import settings
from urllib3.util import parse_url

from core.basic_auth import basic_authorization
from core.egress import EgressPolicy, ModelHostPolicy
from core.errors import UpstreamBadAnswer, UpstreamTimeout, UpstreamUnavailable

USER_AGENT = "wow-ai-hub/0.1"
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

Timeout = float | tuple[float, float]


class HubSession:
    """Pooled keep-alive connections (urllib3, no retries, no redirects, no proxies from the
    environment). With an egress policy, every request it sends (each redirect hop too) is checked
    and goes to the address the check approved; the Host header, TLS SNI and the certificate check
    keep the name. urllib3 rather than requests, whose own preparation of each call is a share of a
    fast model's ``/predict`` worth saving (bench/README.md)."""

    def __init__(
        self,
        pool_size: int = 10,
        egress: EgressPolicy | ModelHostPolicy | None = None,
        ca_certs: str | None = None,
    ) -> None:
        self.egress = egress
        # certifi's authorities unless told otherwise, the ones requests uses: the same servers verify.
        self._pools = urllib3.PoolManager(
            num_pools=4, maxsize=pool_size, ca_certs=ca_certs or certifi.where()
        )

    def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """The response with its body unread; ``timeout`` defaults to ``settings.HUB_OUTBOUND_TIMEOUT``."""
        chosen = timeout if timeout is not None else tuple(settings.HUB_OUTBOUND_TIMEOUT)
        connect, read = chosen if isinstance(chosen, tuple) else (chosen, chosen)
        send_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        target = parse_url(url)  # percent-encodes what a request line cannot carry (spaces, non-ASCII)
        if target.auth and "Authorization" not in send_headers:  # credentials written into the URL
            user, _, password = target.auth.partition(":")
            send_headers["Authorization"] = basic_authorization(unquote(user), unquote(password))
        if self.egress is None:
            pool = self._pools.connection_from_url(url)
        else:
            destination = self.egress.check(url)
            send_headers["Host"] = destination.host_header(url)
            # The pool key carries the name, so pinned connections for two names never mix.
            name = {"server_hostname": destination.host, "assert_hostname": destination.host}
            pool = self._pools.connection_from_url(
                destination.pinned_url(url), pool_kwargs=name if target.scheme == "https" else None
            )
        return pool.urlopen(
            method,
            target.request_uri,
            body=body,
            headers=send_headers,
            timeout=urllib3.Timeout(connect=connect, read=read),
            retries=False,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
        )


_sessions: dict[Hashable, HubSession] = {}
_sessions_lock = threading.Lock()


def session_for(
    key: Hashable, *, pool_size: int = 10, egress: EgressPolicy | ModelHostPolicy | None = None
) -> HubSession:
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


def _send(session: HubSession, method: str, url: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
    try:
        return session.send(method, url, **kwargs)
    # Refused and unresolvable hosts are connection failures, though urllib3 files them under timeouts.
    except urllib3.exceptions.NewConnectionError as exc:
        raise UpstreamUnavailable(f"{_public(url)} is unreachable.") from exc
    except urllib3.exceptions.TimeoutError as exc:
        raise UpstreamTimeout(f"{_public(url)} did not answer in time.") from exc
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError, OSError) as exc:
        raise UpstreamUnavailable(f"{_public(url)} is unreachable.") from exc
    except (urllib3.exceptions.HTTPError, ValueError) as exc:
        raise UpstreamBadAnswer(f"Calling {_public(url)} failed: {type(exc).__name__}.") from exc


def _read_budget(timeout: Timeout | None) -> float:
    """How long a whole body may take: the call's read timeout, which otherwise bounds each read only."""
    chosen = timeout if timeout is not None else tuple(settings.HUB_OUTBOUND_TIMEOUT)
    return float(chosen[1] if isinstance(chosen, tuple) else chosen)


def _read_limited(response: urllib3.BaseHTTPResponse, url: str, max_bytes: int, budget: float) -> bytes:
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
        while chunk := response.read1(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > max_bytes:
                raise UpstreamBadAnswer(f"{_public(url)} sent more than the {max_bytes} bytes allowed.")
            if time.monotonic() > deadline:
                raise UpstreamTimeout(f"{_public(url)} did not finish sending within {budget:g} s.")
            chunks.append(chunk)
        response.release_conn()  # read to its end: the connection goes back to the pool, not closed
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise UpstreamTimeout(f"{_public(url)} stopped sending in time.") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise UpstreamUnavailable(f"{_public(url)} broke the connection.") from exc
    finally:
        response.close()
    return b"".join(chunks)


def _require_success(response: urllib3.BaseHTTPResponse, url: str) -> None:
    if 200 <= response.status < 300:
        return
    response.close()
    reason = " (authentication refused)" if response.status in (401, 403) else ""
    raise UpstreamBadAnswer(f"{_public(url)} answered HTTP {response.status}{reason}.")


def request_json(
    session: HubSession,
    method: str,
    url: str,
    *,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: Timeout | None = None,
    max_bytes: int | None = None,
) -> Any:
    """Send (``json`` as the body, ``auth`` as HTTP basic auth); require 2xx and a JSON body of at
    most ``max_bytes`` (``HUB_MAX_UPSTREAM_RESPONSE_BYTES`` unless given); return it parsed (None for
    204 No Content)."""
    send_headers = dict(headers or {})
    body = None
    if json is not None:
        try:
            body = json_module.dumps(json, allow_nan=False).encode()
        except ValueError as exc:  # NaN or infinity: not JSON, whatever Python's encoder allows
            raise UpstreamBadAnswer(f"Calling {_public(url)} failed: the payload is not valid JSON.") from exc
        send_headers["Content-Type"] = "application/json"
    if auth is not None:
        send_headers["Authorization"] = basic_authorization(*auth)
    response = _send(session, method, url, body=body, headers=send_headers, timeout=timeout)
    _require_success(response, url)
    limit = max_bytes if max_bytes is not None else settings.HUB_MAX_UPSTREAM_RESPONSE_BYTES
    answer = _read_limited(response, url, limit, _read_budget(timeout))
    if not answer and response.status == 204:  # No Content: a DELETE's usual answer
        return None
    try:
        return json_module.loads(answer)
    except ValueError as exc:
        raise UpstreamBadAnswer(f"{_public(url)} answered with something that is not JSON.") from exc


def fetch_bytes(
    session: HubSession,
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
        if response.status in REDIRECT_STATUSES and "Location" in response.headers:
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
