"""Loopback servers for benchmarks: a V7 model server with a fixed service time and bounded
parallelism, and an image host. Both speak HTTP/1.1 keep-alive."""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image


def png(width: int = 320, height: int = 240) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return buffer.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # As real model servers do (uvicorn, gunicorn): with Nagle on, the body written after the
    # headers waits for the client's delayed ACK, 40 ms a response, and that is not the Hub's cost.
    disable_nagle_algorithm = True
    server: _Server

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/api/stats":  # when the first and the last inference call ended (monotonic)
            stats = {"calls": len(self.server.ended), "first": min(self.server.ended, default=0.0)}
            stats["last"] = max(self.server.ended, default=0.0)
            stats["peak"] = self.server.peak  # the most calls served at once
            self._send(200, json.dumps(stats).encode(), "application/json")
        elif self.path == "/api/stats/reset":  # the peak counts from now
            with self.server.lock:
                self.server.peak = self.server.serving
            self._send(200, b"{}", "application/json")
        elif self.path == "/api/classes":
            self._send(
                200, json.dumps([{"name": "object", "type": "bounding_box"}]).encode(), "application/json"
            )
        else:
            self._send(200, self.server.image, "image/png")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.server.failing:
            self._send(500, b'{"error": "out of memory"}', "application/json")
            return
        with self.server.slots:
            with self.server.lock:
                self.server.serving += 1
                self.server.peak = max(self.server.peak, self.server.serving)
            time.sleep(self.server.service_seconds)
            with self.server.lock:
                self.server.serving -= 1
            self.server.ended.append(time.monotonic())
        result = {
            "name": "object",
            "label": "object",
            "confidence": 0.9,
            "bounding_box": {"x": 10, "y": 10, "w": 50, "h": 40},
        }
        self._send(200, json.dumps({"status": "succeeded", "results": [result]}).encode(), "application/json")

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, service_seconds: float, parallel: int, failing: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.failing = failing
        self.service_seconds = service_seconds
        self.slots = threading.BoundedSemaphore(parallel)
        self.image = png()
        self.ended: list[float] = []
        self.lock = threading.Lock()
        self.serving = 0
        self.peak = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        # wrk closes its connections mid-response when its time is up: not an error of the run.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def model_server(service_seconds: float = 0.05, parallel: int = 16, failing: bool = False) -> Iterator[str]:
    """Yields the base URL; ``/api/infer`` answers after ``service_seconds``, ``parallel`` at a time
    (a broken one, ``failing``: HTTP 500 at once)."""
    server = _Server(service_seconds, parallel, failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
