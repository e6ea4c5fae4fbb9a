"""Media servers on loopback and simulated DNS, for the egress tests."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import QuietHandler, serving
from tests.registry.test_clients_and_media import png_bytes

PNG = png_bytes()
REFUSED = "The Hub does not fetch media from"


class Media(QuietHandler):
    """Serves a PNG at any path (or redirects where told) and records what it was asked."""

    hits: list[str]
    hosts: list[str]
    redirects: dict[str, str]

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        type(self).hosts.append(self.headers.get("Host", ""))
        location = self.redirects.get(self.path.split("?")[0])
        if location is None:
            self.reply(200, PNG, "image/png")
            return
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


Serve = Callable[..., tuple[str, type[Media]]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Starts media servers (a fresh handler class each, so each records its own hits)."""
    with ExitStack() as stack:

        def start(
            redirects: dict[str, str] | None = None,
            address: tuple[str, int] = ("127.0.0.1", 0),
            tls: ssl.SSLContext | None = None,
        ) -> tuple[str, type[Media]]:
            handler = type("Media", (Media,), {"hits": [], "hosts": [], "redirects": redirects or {}})
            return stack.enter_context(serving(handler, address, tls)), handler

        yield start


@pytest.fixture
def short_timeouts(settings: Any) -> None:
    # Should a protection be removed, fetches from unroutable addresses fail fast instead of hanging.
    settings.HUB_OUTBOUND_TIMEOUT = (1.0, 5.0)
    settings.HUB_MEDIA_ALLOWED_HOSTS = []
    settings.HUB_MEDIA_ALLOW_PUBLIC = True


@dataclass
class FakeDNS:
    """``answers[name]``: the answers to give, one per lookup (the last one repeats); names not in it
    resolve for real. ``asked`` records each lookup of a faked name."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    dns = FakeDNS()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in dns.answers:
            return real(host, port, *args, **kwargs)
        dns.asked.append(host)
        queue = dns.answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return dns
