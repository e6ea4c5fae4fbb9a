"""Bad input to the server: a 4xx with a message, limits on sizes and time, unknown paths and methods."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from tests.examples.byom_detector.images import (
    b64_request,
    blank,
    encode,
    four_shapes,
)
from tests.examples.byom_detector.servers import (
    HTTP_TIMEOUT,
    SHORT_READ_TIMEOUT_S,
    SMALL_LIMIT_MB,
    ImageHost,
    Route,
    RunningServer,
)
from tests.examples.byom_detector.v7_schema import assert_failed


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"{}", 'missing "image"'),
        (b'{"image": "abc"}', 'missing "image"'),
        (b'{"image": {}}', 'string "url" or a string "base64"'),
        (b'{"image": {"url": 5}}', 'string "url" or a string "base64"'),
        (b'{"image": {"base64": "!!!not base64!!!"}}', "not valid base64"),
        (b'{"image": {"base64": ""}}', "empty"),
        (b'{"image": {"base64": "aGVsbG8gd29ybGQ="}}', "could not decode the image"),
        (b'{"image": {"url": "ftp://example.com/a.png"}}', "http or https"),
        (b'{"image": {"url": "file:///etc/passwd"}}', "http or https"),
    ],
)
def test_bad_input_is_a_400_with_a_message(byom: RunningServer, data: bytes, words: str) -> None:
    assert_failed(byom.post(data=data, headers={"Content-Type": "application/json"}), 400, words)


def test_truncated_image_is_a_400(byom: RunningServer) -> None:
    data = encode(four_shapes())
    assert_failed(byom.post(b64_request(data[: len(data) // 2])), 400, "could not decode the image")


def test_url_errors_are_400s(byom: RunningServer, image_host: ImageHost) -> None:
    missing = image_host.base + "/missing.png"
    assert_failed(byom.post({"image": {"url": missing}}), 400, "HTTP 404")
    not_image = image_host.add("/page.html", Route(b"<html></html>", content_type="text/html"))
    assert_failed(byom.post({"image": {"url": not_image}}), 400, "could not decode the image")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert_failed(
        byom.post({"image": {"url": f"http://127.0.0.1:{port}/a.png"}}), 400, "fetching image.url failed"
    )


def test_slow_url_times_out(byom: RunningServer, image_host: ImageHost) -> None:
    url = image_host.add("/slow.png", Route(encode(blank()), wait_for=image_host.release))
    started = time.monotonic()
    assert_failed(byom.post({"image": {"url": url}}), 400, "Timeout")
    assert time.monotonic() - started < SHORT_READ_TIMEOUT_S + 3


@pytest.mark.parametrize("send_length", [True, False], ids=["declared", "streamed"])
def test_oversized_download_is_refused(byom: RunningServer, image_host: ImageHost, send_length: bool) -> None:
    big = b"\0" * (SMALL_LIMIT_MB * 1024 * 1024 + 1)
    url = image_host.add(f"/big-{send_length}.png", Route(big, send_length=send_length))
    assert_failed(byom.post({"image": {"url": url}}), 400, "larger than")


def test_declared_oversized_download_is_refused_before_reading(
    byom: RunningServer, image_host: ImageHost
) -> None:
    # The body is a small valid image: only the announced length can trigger the refusal.
    route = Route(encode(blank()), declared_length=SMALL_LIMIT_MB * 1024 * 1024 + 1)
    url = image_host.add("/announced-big.png", route)
    assert_failed(byom.post({"image": {"url": url}}), 400, "larger than")


def test_oversized_base64_is_refused(byom: RunningServer) -> None:
    big = b"\0" * (SMALL_LIMIT_MB * 1024 * 1024 + 1)
    assert_failed(byom.post(b64_request(big)), 400, "larger than")


def raw_request(url: str, head: str) -> tuple[int, bytes]:
    """Send a hand-written request head (no body) and return the status code and response body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    status = int(response.split(b" ", 2)[1])
    return status, response.split(b"\r\n\r\n", 1)[1]


def test_oversized_body_is_refused_without_reading_it(byom: RunningServer) -> None:
    head = "POST /api/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n"
    status, body = raw_request(byom.url, head)
    assert status == 400
    assert b"larger than" in body


def test_missing_content_length_is_a_400(byom: RunningServer) -> None:
    status, body = raw_request(byom.url, "POST /api/infer HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 400
    assert b"Content-Length" in body


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/"), ("GET", "/infer"), ("POST", "/api/classify"), ("GET", "/api")]
)
def test_unknown_path_is_a_404(byom: RunningServer, method: str, path: str) -> None:
    response = requests.request(method, byom.url + path, json={}, timeout=HTTP_TIMEOUT)
    assert_failed(response, 404, "no such endpoint")


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/infer"), ("POST", "/api/classes"), ("PUT", "/api/infer")]
)
def test_wrong_method_is_a_405(byom: RunningServer, method: str, path: str) -> None:
    response = requests.request(method, byom.url + path, json={}, timeout=HTTP_TIMEOUT)
    assert_failed(response, 405, "only")
    assert response.headers["Allow"] in ("GET", "POST")


def test_query_string_and_trailing_slash_are_tolerated(byom: RunningServer) -> None:
    response = requests.get(f"{byom.url}/api/classes/?v=1", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200
    assert isinstance(response.json(), list)
