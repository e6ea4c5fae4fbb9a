"""The server's auth, its start and stop, its log, its defaults and concurrent first requests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from examples.byom_detector import server
from tests.examples.byom_detector.images import (
    RECT,
    b64_request,
    blank,
    draw_circle,
    draw_rect,
    encode,
)
from tests.examples.byom_detector.servers import (
    HTTP_TIMEOUT,
    REPO_ROOT,
    START_TIMEOUT_S,
    RunningServer,
    start_server,
)
from tests.examples.byom_detector.v7_schema import assert_failed


def ask(running: RunningServer, endpoint: str, **kw: Any) -> requests.Response:
    if endpoint == "classes":
        return requests.get(f"{running.url}/api/classes", timeout=HTTP_TIMEOUT, **kw)
    return requests.post(
        f"{running.url}/api/infer", json=b64_request(encode(blank())), timeout=HTTP_TIMEOUT, **kw
    )


@pytest.mark.parametrize("endpoint", ["classes", "infer"])
def test_basic_auth_is_enforced(basic_server: RunningServer, endpoint: str) -> None:
    response = ask(basic_server, endpoint)
    assert_failed(response, 401, "credentials")
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert_failed(ask(basic_server, endpoint, auth=("v7", "wrong")), 401, "credentials")
    assert_failed(ask(basic_server, endpoint, auth=("V7", "s3cret:with-colon")), 401, "credentials")
    assert_failed(ask(basic_server, endpoint, headers={"Authorization": "Basic %%%"}), 401, "credentials")
    assert_failed(ask(basic_server, endpoint, headers={"Authorization": "Bearer s3cret"}), 401, "credentials")
    assert ask(basic_server, endpoint, auth=("v7", "s3cret:with-colon")).status_code == 200


@pytest.mark.parametrize("endpoint", ["classes", "infer"])
def test_secret_header_is_enforced(header_server: RunningServer, endpoint: str) -> None:
    assert_failed(ask(header_server, endpoint), 401, "credentials")
    assert_failed(ask(header_server, endpoint, headers={"X-My-Auth": "top-secre"}), 401, "credentials")
    assert_failed(ask(header_server, endpoint, headers={"X-My-Auth": "top-secret2"}), 401, "credentials")
    assert_failed(ask(header_server, endpoint, headers={"X-My-Auth": "TOP-SECRET"}), 401, "credentials")
    assert_failed(ask(header_server, endpoint, headers={"X-Other": "top-secret"}), 401, "credentials")
    # Header names are case-insensitive in HTTP.
    assert ask(header_server, endpoint, headers={"x-my-auth": "top-secret"}).status_code == 200


def test_no_auth_configured_means_open(byom: RunningServer) -> None:
    assert ask(byom, "classes").status_code == 200


@pytest.mark.parametrize(
    "args",
    [
        ["--basic-auth-user", "u"],
        ["--auth-header-name", "X-A"],
        ["--auth-header-name", "X-A", "--auth-secret", ""],
    ],
)
def test_half_configured_auth_refuses_to_start(args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYOM_")}
    done = subprocess.run(
        [sys.executable, "-m", "examples.byom_detector.server", "--port", "0", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 2
    assert "listening" not in done.stdout
    assert "auth" in done.stderr


# --- lifecycle and logging ------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_server_cleanly_and_logs_no_bodies(tmp_path: Path, sig: int) -> None:
    running = start_server(tmp_path / "server.log")
    try:
        payload = b64_request(encode(draw_rect(blank(), RECT)))
        running.infer(payload)
    finally:
        code = running.stop(sig)
    assert code == 0
    log = running.log_path.read_text()
    assert "POST /api/infer 200" in log
    assert "stopped" in log
    assert payload["image"]["base64"][:40] not in log
    assert "Traceback" not in log


def test_main_server_log_has_one_line_per_request(byom: RunningServer) -> None:
    before = byom.log_path.read_text().count("GET /api/classes 200")
    ask(byom, "classes")
    deadline = time.monotonic() + 2
    while byom.log_path.read_text().count("GET /api/classes 200") == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert byom.log_path.read_text().count("GET /api/classes 200") == before + 1


def test_default_limits() -> None:
    _, port, settings = server.parse_args([])
    assert port == 9091
    assert settings.max_image_bytes == 20 * 1024 * 1024
    assert settings.connect_timeout_s > 0 and settings.read_timeout_s > 0
    assert settings.connect_timeout_s + settings.read_timeout_s < 30  # V7 gives a model 30 s


def test_concurrent_first_requests_with_different_images_all_succeed(tmp_path: Path) -> None:
    # A Haar cascade shared between threads can crash the whole server (SIGSEGV) on the first
    # concurrent requests; a fresh server makes the first use concurrent.
    running = start_server(tmp_path / "server.log")
    try:
        images = [
            encode(draw_rect(blank(400, 200), (40, 20, 139, 99))),
            encode(draw_circle(blank(400, 300), (60, 60, 40))),
        ]
        payloads = [b64_request(images[i % len(images)]) for i in range(12)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = list(pool.map(lambda p: running.post(p).status_code, payloads))
        assert statuses == [200] * 12
        assert running.proc.poll() is None
    finally:
        running.stop()
