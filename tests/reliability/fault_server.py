"""A model server speaking V7's BYOM contract (POST /infer, GET /classes) that misbehaves on demand.

``with fault_server(Fault.HANG) as server:`` serves on loopback; ``server.fault`` (and ``delay``) can
be switched while it runs; ``infer_calls`` and ``max_in_flight`` say what reached it.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from tests.conftest import QuietHandler, serving


class Fault(StrEnum):
    HEALTHY = "healthy"  # one rectangle
    SLOW = "slow"  # the healthy answer, after `delay` seconds
    HANG = "hang"  # reads the request, never answers (until `hang_seconds` or the server stops)
    ERROR_500 = "500"
    RESET = "reset"  # reads the request, then resets the connection (TCP RST)
    MALFORMED_JSON = "malformed_json"
    WRONG_SHAPE = "wrong_shape"  # JSON, status "succeeded", but "results" is not a list
    HUGE = "huge"  # `huge_bytes` of valid JSON, with its Content-Length
    HUGE_UNDECLARED = "huge_undeclared"  # the same without Content-Length, until the connection closes
    TRICKLE = "trickle"  # the healthy answer, a byte every 0.2 s: no single read ever times out


CLASSES = [{"name": "rectangle", "type": "bounding_box"}]
RECTANGLE = {"name": "rectangle", "confidence": 0.9, "bounding_box": {"x": 8, "y": 8, "w": 16, "h": 16}}


@dataclass
class FaultServer:
    fault: Fault = Fault.HEALTHY
    delay: float = 0.0
    huge_bytes: int = 1 << 20
    # A bound on "never", so that a Hub without timeouts fails its test instead of hanging it.
    hang_seconds: float = 60.0
    url: str = ""
    infer_calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def infer_url(self) -> str:
        return f"{self.url}/infer"

    def entered(self) -> None:
        with self._lock:
            self.infer_calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def left(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


class FaultHandler(QuietHandler):
    state: ClassVar[FaultServer]

    def do_GET(self) -> None:
        if self.path == "/classes":
            self.reply(200, _json(CLASSES), "application/json")
        else:
            self.reply(404)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/infer":
            self.reply(404)
            return
        self.state.entered()
        try:
            self._answer(self.state.fault)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the Hub gave up on a huge body or a slow answer: what these faults are for
        finally:
            self.state.left()

    def _answer(self, fault: Fault) -> None:
        state = self.state
        if fault is Fault.SLOW:
            state.stopping.wait(state.delay)
        if fault is Fault.HANG:
            state.stopping.wait(state.hang_seconds)
            self.close_connection = True
        elif fault is Fault.ERROR_500:
            self.reply(500, _json({"error": "boom"}), "application/json")
        elif fault is Fault.RESET:
            # Linger 0: closing sends a RST instead of a FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif fault is Fault.MALFORMED_JSON:
            self.reply(200, b'{"status": "succeeded", "results": [', "application/json")
        elif fault is Fault.WRONG_SHAPE:
            self.reply(200, _json({"status": "succeeded", "results": {"rectangle": 0.9}}), "application/json")
        elif fault in (Fault.HUGE, Fault.HUGE_UNDECLARED):
            self._huge(declared=fault is Fault.HUGE)
        elif fault is Fault.TRICKLE:
            self._trickle(_json({"status": "succeeded", "results": [RECTANGLE]}))
        else:
            self.reply(200, _json({"status": "succeeded", "results": [RECTANGLE]}), "application/json")

    def _trickle(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for byte in body:
            if self.state.stopping.wait(0.2):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def _huge(self, declared: bool) -> None:
        head = b'{"status": "succeeded", "results": [], "padding": "'
        body = head + b"x" * max(0, self.state.huge_bytes - len(head) - 2) + b'"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if declared:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        for start in range(0, len(body), 64 * 1024):
            self.wfile.write(body[start : start + 64 * 1024])


@contextmanager
def fault_server(
    fault: Fault = Fault.HEALTHY, *, delay: float = 0.0, huge_bytes: int = 1 << 20
) -> Iterator[FaultServer]:
    state = FaultServer(fault=fault, delay=delay, huge_bytes=huge_bytes)
    handler = type("BoundFaultHandler", (FaultHandler,), {"state": state})
    with serving(handler) as url:
        state.url = url
        try:
            yield state
        finally:
            state.stopping.set()  # ends hanging and slow answers before the server shuts down
