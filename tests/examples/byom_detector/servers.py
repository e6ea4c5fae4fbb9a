"""The example server under test, run as a subprocess, and a tiny image host for the URL tests."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.examples.byom_detector.v7_schema import assert_v7_valid

REPO_ROOT = Path(__file__).resolve().parents[3]
HTTP_TIMEOUT = (3.0, 15.0)
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
# The main test server runs with a small image limit and a short read timeout, so the limit and
# timeout tests need neither 20 MB bodies nor 15 s waits.
SMALL_LIMIT_MB = 1
SHORT_READ_TIMEOUT_S = 1.0


@dataclass
class RunningServer:
    proc: subprocess.Popen[str]
    url: str
    log_path: Path
    auth: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def post(self, payload: Any = None, *, data: bytes | None = None, **kw: Any) -> requests.Response:
        kw.setdefault("auth", self.auth)
        kw.setdefault("headers", self.headers)
        if data is not None:
            return requests.post(f"{self.url}/api/infer", data=data, timeout=HTTP_TIMEOUT, **kw)
        return requests.post(f"{self.url}/api/infer", json=payload, timeout=HTTP_TIMEOUT, **kw)

    def infer(self, payload: Any) -> dict[str, Any]:
        response = self.post(payload)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert_v7_valid(body)
        assert body["status"] == "succeeded"
        return body

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        return self.proc.returncode


def start_server(log_path: Path, *args: str, env: dict[str, str] | None = None) -> RunningServer:
    """Start the server on a free loopback port (--port 0) and wait for its ready line."""
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("BYOM_")}
    clean_env.update(env or {}, PYTHONUNBUFFERED="1")
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "examples.byom_detector.server", "--host", "127.0.0.1", "--port", "0", *args],
        cwd=REPO_ROOT,
        env=clean_env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    log.close()
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: lines.put(proc.stdout.readline() if proc.stdout else ""), daemon=True
    ).start()
    try:
        line = lines.get(timeout=START_TIMEOUT_S)
    except queue.Empty:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)
        pytest.fail(f"server did not start within {START_TIMEOUT_S}s: {log_path.read_text()}")
    prefix = "byom-detector listening on "
    if not line.startswith(prefix):
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)
        pytest.fail(f"unexpected first line {line!r}; log: {log_path.read_text()}")
    return RunningServer(proc, line[len(prefix) :].strip(), log_path)


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "image/png"
    send_length: bool = True
    wait_for: threading.Event | None = None
    declared_length: int | None = None  # a Content-Length to announce instead of the real one


class ImageHost:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.release = threading.Event()
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = host.routes.get(self.path, Route(b"not found", 404, "text/plain"))
                if route.wait_for is not None:
                    route.wait_for.wait(timeout=5)
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                if route.declared_length is not None:
                    self.send_header("Content-Length", str(route.declared_length))
                elif route.send_length:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                # The detector server hangs up on purpose when it hits a size limit or a timeout.
                with contextlib.suppress(OSError):
                    self.wfile.write(route.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.base + path

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
