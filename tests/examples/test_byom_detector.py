"""The BYOM example server, run for real as a subprocess, and its detector, called directly.

No Django: the server is a standalone program that speaks V7 Darwin's "Bring Your Own Model"
contract, and every response is checked against that contract's response schema.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import jsonschema
import numpy as np
import numpy.typing as npt
import pytest
import requests
from PIL import Image, ImageDraw

from examples.byom_detector import detector, server

Pixels = npt.NDArray[np.uint8]
REPO_ROOT = Path(__file__).resolve().parents[2]
HTTP_TIMEOUT = (3.0, 15.0)
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
# The main test server runs with a small image limit and a short read timeout, so the limit and
# timeout tests need neither 20 MB bodies nor 15 s waits.
SMALL_LIMIT_MB = 1
SHORT_READ_TIMEOUT_S = 1.0
TOL = 3

# --- V7's inference-response schema, written from the rules in the protocol reference §2.1 -------

_NUM = {"type": "number"}
_POINT = {"type": "object", "required": ["x", "y"], "properties": {"x": _NUM, "y": _NUM}}
_BBOX = {
    "type": "object",
    "required": ["x", "y", "w", "h"],
    "properties": {
        "x": _NUM,
        "y": _NUM,
        "w": {"type": "number", "minimum": 0},
        "h": {"type": "number", "minimum": 0},
    },
}
_PATH = {"type": "object", "required": ["path"], "properties": {"path": {"type": "array", "items": _POINT}}}
_GEOMETRY: dict[str, dict[str, Any]] = {
    "bounding_box": _BBOX,
    "polygon": _PATH,
    "line": _PATH,
    "keypoint": _POINT,
    "ellipse": {
        "type": "object",
        "required": ["angle", "center", "radius"],
        "properties": {"angle": {"type": "number", "minimum": 0}, "center": _POINT, "radius": _POINT},
    },
    "cuboid": {
        "type": "object",
        "required": ["front", "back"],
        "properties": {"front": _BBOX, "back": _BBOX},
    },
    "skeleton": {
        "type": "object",
        "required": ["nodes"],
        "properties": {
            "nodes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["x", "y", "occluded"],
                    "properties": {
                        "x": {"type": "number", "minimum": 0},
                        "y": {"type": "number", "minimum": 0},
                        "occluded": {"type": "boolean"},
                        "name": {"type": "string"},
                    },
                },
            }
        },
    },
    "tag": {"type": "object"},
    "directional_vector": {
        "type": "object",
        "required": ["angle", "length"],
        "properties": {"angle": {"type": "number", "minimum": 0}, "length": {"type": "number", "minimum": 0}},
    },
}
V7_RESPONSE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"enum": ["succeeded", "failed"]},
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "label", "confidence"],
                "properties": {
                    "name": {"type": "string"},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "text": {
                        "type": "object",
                        "required": ["text"],
                        "properties": {"text": {"type": "string"}},
                    },
                    "attributes": {"type": "array"},
                    **_GEOMETRY,
                },
                # Exactly one geometry key per result.
                "oneOf": [{"required": [key]} for key in _GEOMETRY],
            },
        },
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(V7_RESPONSE_SCHEMA)


def assert_v7_valid(body: Any) -> None:
    errors = [e.message for e in _VALIDATOR.iter_errors(body)]
    assert not errors, errors


# --- drawing --------------------------------------------------------------------------------------

RECT = (40, 30, 80, 60)  # x, y, w, h
CIRCLE = (230, 65, 35)  # centre x, centre y, radius
TRIANGLE = [(60, 210), (140, 210), (100, 140)]
SQUARE = (200, 150, 50, 50)


def blank(width: int = 320, height: int = 240, colour: str | tuple[int, int, int] = "white") -> Image.Image:
    return Image.new("RGB", (width, height), colour)


def draw_rect(im: Image.Image, box: tuple[int, int, int, int], colour: Any = (255, 0, 0)) -> Image.Image:
    x, y, w, h = box
    ImageDraw.Draw(im).rectangle([x, y, x + w - 1, y + h - 1], fill=colour)
    return im


def draw_circle(im: Image.Image, circle: tuple[int, int, int], colour: Any = (0, 0, 255)) -> Image.Image:
    cx, cy, r = circle
    ImageDraw.Draw(im).ellipse([cx - r, cy - r, cx + r - 1, cy + r - 1], fill=colour)
    return im


def draw_triangle(im: Image.Image, corners: list[tuple[int, int]], colour: Any = (0, 160, 0)) -> Image.Image:
    ImageDraw.Draw(im).polygon(corners, fill=colour)
    return im


def four_shapes() -> Image.Image:
    im = draw_rect(blank(), RECT)
    draw_circle(im, CIRCLE)
    draw_triangle(im, TRIANGLE)
    return draw_rect(im, SQUARE, (255, 200, 0))


def synthetic_face(size: int = 240) -> Pixels:
    """A grey cartoon face (brows, eyes, nose, mouth) that OpenCV's frontal-face cascade accepts."""
    img = np.full((size, size), 200, np.uint8)
    c = size // 2

    def oval(dx: float, dy: float, rx: float, ry: float, shade: int) -> None:
        axes = (int(size * rx), int(size * ry))
        cv2.ellipse(img, (c + int(size * dx), c + int(size * dy)), axes, 0, 0, 360, shade, -1)

    oval(0, 0, 0.3, 0.4, 170)
    for side in (-1, 1):
        oval(side * 0.12, -0.1, 0.07, 0.02, 60)
        oval(side * 0.12, -0.04, 0.06, 0.03, 40)
    oval(0, 0.08, 0.03, 0.05, 140)
    oval(0, 0.2, 0.1, 0.03, 70)
    return np.asarray(cv2.GaussianBlur(img, (0, 0), 2), dtype=np.uint8)


def encode(im: Image.Image, fmt: str = "PNG", **save: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def b64_request(image: bytes, **extra: Any) -> dict[str, Any]:
    return {"image": {"base64": base64.b64encode(image).decode()}, **extra}


def by_name(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        grouped.setdefault(r["name"], []).append(r)
    return grouped


def assert_box(actual: dict[str, Any], expected: tuple[int, int, int, int]) -> None:
    got = (actual["x"], actual["y"], actual["w"], actual["h"])
    assert all(abs(a - e) <= TOL for a, e in zip(got, expected, strict=True)), (got, expected)


def assert_path(actual: list[dict[str, Any]], expected: list[tuple[int, int]]) -> None:
    got = sorted((p["x"], p["y"]) for p in actual)
    assert len(got) == len(expected), got
    for (ax, ay), (ex, ey) in zip(got, sorted(expected), strict=True):
        assert abs(ax - ex) <= TOL and abs(ay - ey) <= TOL, (got, expected)


def circle_box(circle: tuple[int, int, int]) -> tuple[int, int, int, int]:
    cx, cy, r = circle
    return (cx - r, cy - r, 2 * r, 2 * r)


# --- the server under test, as a subprocess -------------------------------------------------------


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


@pytest.fixture(scope="module")
def byom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("byom") / "server.log"
    running = start_server(
        log,
        "--max-image-mb",
        str(SMALL_LIMIT_MB),
        "--read-timeout",
        str(SHORT_READ_TIMEOUT_S),
        "--connect-timeout",
        "2",
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def basic_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("basic") / "server.log"
    running = start_server(log, "--basic-auth-user", "v7", "--basic-auth-pass", "s3cret:with-colon")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def header_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("header") / "server.log"
    env = {"BYOM_AUTH_HEADER_NAME": "X-My-Auth", "BYOM_AUTH_SECRET": "top-secret"}
    running = start_server(log, env=env)
    yield running
    running.stop()


# --- a tiny image host for the URL tests ----------------------------------------------------------


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


@pytest.fixture(scope="module")
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    yield host
    host.close()


# --- the schema itself ----------------------------------------------------------------------------


def test_schema_accepts_the_reference_example() -> None:
    assert_v7_valid(
        {
            "status": "succeeded",
            "results": [
                {
                    "name": "car",
                    "label": "car",
                    "confidence": 0.91,
                    "bounding_box": {"x": 550, "y": 120, "w": 300, "h": 400},
                },
                {
                    "name": "road",
                    "label": "road",
                    "confidence": 0.77,
                    "polygon": {"path": [{"x": 10, "y": 700}]},
                },
                {"name": "night", "label": "night", "confidence": 0.66, "tag": {}},
                {
                    "name": "plate",
                    "label": "plate",
                    "confidence": 0.88,
                    "bounding_box": {"x": 600, "y": 460, "w": 90, "h": 24},
                    "text": {"text": "AB12 CDE"},
                },
            ],
        }
    )
    assert_v7_valid({"status": "failed", "results": []})


@pytest.mark.parametrize(
    "body",
    [
        {"results": []},
        {"status": "ok", "results": []},
        {"status": "succeeded", "results": [{"name": "a", "label": "a", "confidence": 95, "tag": {}}]},
        {"status": "succeeded", "results": [{"name": "a", "label": "a", "confidence": 0.5}]},
        {"status": "succeeded", "results": [{"name": "a", "confidence": 0.5, "tag": {}}]},
        {
            "status": "succeeded",
            "results": [{"name": "a", "label": "a", "confidence": 0.5, "text": {"text": "x"}}],
        },
        {
            "status": "succeeded",
            "results": [
                {
                    "name": "a",
                    "label": "a",
                    "confidence": 0.5,
                    "tag": {},
                    "bounding_box": {"x": 0, "y": 0, "w": 1, "h": 1},
                }
            ],
        },
        {
            "status": "succeeded",
            "results": [
                {
                    "name": "a",
                    "label": "a",
                    "confidence": 0.5,
                    "bounding_box": {"x": 0, "y": 0, "w": -1, "h": 1},
                }
            ],
        },
    ],
    ids=[
        "no-status",
        "bad-status",
        "confidence-95",
        "no-geometry",
        "no-label",
        "text-only",
        "two-geometries",
        "neg-w",
    ],
)
def test_schema_rejects_what_v7_rejects(body: dict[str, Any]) -> None:
    assert list(_VALIDATOR.iter_errors(body))


# --- /api/classes ---------------------------------------------------------------------------------


def test_classes_lists_every_class_with_a_v7_type(byom: RunningServer) -> None:
    response = requests.get(f"{byom.url}/api/classes", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    classes = response.json()
    assert isinstance(classes, list)
    assert {c["name"]: c["type"] for c in classes} == {
        "rectangle": "bounding_box",
        "square": "bounding_box",
        "circle": "bounding_box",
        "triangle": "polygon",
        "face": "bounding_box",
        "dark": "tag",
        "medium": "tag",
        "bright": "tag",
    }


# --- /api/infer: detections -----------------------------------------------------------------------


def assert_matches_classes(results: list[dict[str, Any]]) -> None:
    """V7 drops results whose class is unknown or whose geometry does not match the class type."""
    types = {c["name"]: c["type"] for c in detector.CLASSES}
    for r in results:
        assert r["label"] == r["name"]
        assert types[r["name"]] in r, r


def test_base64_image_gives_each_shape_at_its_place(byom: RunningServer) -> None:
    results = byom.infer(b64_request(encode(four_shapes())))["results"]
    assert_matches_classes(results)
    found = by_name(results)
    assert sorted(found) == ["bright", "circle", "rectangle", "square", "triangle"]
    assert all(len(v) == 1 for v in found.values()), found
    assert_box(found["rectangle"][0]["bounding_box"], RECT)
    assert_box(found["circle"][0]["bounding_box"], circle_box(CIRCLE))
    assert_box(found["square"][0]["bounding_box"], SQUARE)
    assert_path(found["triangle"][0]["polygon"]["path"], TRIANGLE)
    for r in results:
        assert 0.85 <= r["confidence"] <= 1.0 or r["name"] == "bright", r


def test_url_image_gives_the_same_results_as_base64(byom: RunningServer, image_host: ImageHost) -> None:
    data = encode(four_shapes())
    url = image_host.add("/shapes.png", Route(data))
    assert byom.infer({"image": {"url": url}}) == byom.infer(b64_request(data))


def test_jpeg_from_url_with_chunked_body(byom: RunningServer, image_host: ImageHost) -> None:
    # No Content-Length: the server must read the stream to its end.
    url = image_host.add(
        "/rect.jpg", Route(encode(draw_rect(blank(), RECT), "JPEG", quality=92), send_length=False)
    )
    found = by_name(byom.infer({"image": {"url": url}})["results"])
    assert_box(found["rectangle"][0]["bounding_box"], RECT)


def test_unknown_request_keys_are_ignored(byom: RunningServer) -> None:
    payload = b64_request(
        encode(draw_rect(blank(), RECT)), bbox={"x": 1, "y": 2, "w": 3, "h": 4}, data={"clicks": []}
    )
    payload["image"]["extra"] = "ignored"
    found = by_name(byom.infer(payload)["results"])
    assert sorted(found) == ["bright", "rectangle"]


def test_exif_rotated_jpeg_gives_coordinates_in_the_upright_frame(byom: RunningServer) -> None:
    # Upright, the picture is 240 wide and 320 tall with the rectangle near its top-left corner.
    upright_box = (20, 40, 80, 50)
    upright = draw_rect(blank(240, 320), upright_box)
    # Stored rotated 90° counter-clockwise with Orientation 6 ("rotate 90° clockwise to view").
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    assert Image.open(io.BytesIO(data)).size == (320, 240)
    found = by_name(byom.infer(b64_request(data))["results"])
    assert_box(found["rectangle"][0]["bounding_box"], upright_box)


def test_dark_background_gives_shapes_and_a_dark_tag(byom: RunningServer) -> None:
    im = draw_circle(blank(colour="black"), (160, 120, 50), (255, 255, 255))
    found = by_name(byom.infer(b64_request(encode(im)))["results"])
    assert sorted(found) == ["circle", "dark"]
    assert_box(found["circle"][0]["bounding_box"], circle_box((160, 120, 50)))
    assert found["dark"][0]["confidence"] > 0.65


def test_face_is_found(byom: RunningServer) -> None:
    face = Image.fromarray(synthetic_face(240)).convert("RGB")
    found = by_name(byom.infer(b64_request(encode(face)))["results"])
    assert len(found.get("face", [])) == 1, found
    box = found["face"][0]["bounding_box"]
    assert abs(box["x"] + box["w"] / 2 - 120) < 20 and abs(box["y"] + box["h"] / 2 - 125) < 25, box
    assert 100 < box["w"] < 220, box
    assert 0.5 <= found["face"][0]["confidence"] < 1.0


# --- threshold ------------------------------------------------------------------------------------


def test_threshold_drops_results_below_it(byom: RunningServer) -> None:
    data = encode(four_shapes())
    everything = byom.infer(b64_request(data))["results"]
    confidences = sorted({r["confidence"] for r in everything})
    assert len(confidences) >= 2, confidences
    # A threshold equal to a returned confidence keeps that result and drops the lower ones.
    threshold = confidences[1]
    kept = byom.infer(b64_request(data, threshold=threshold))["results"]
    assert kept == [r for r in everything if r["confidence"] >= threshold]
    assert 0 < len(kept) < len(everything)
    assert byom.infer(b64_request(data, threshold=0))["results"] == everything


@pytest.mark.parametrize("threshold", [1.5, -0.1, "0.5", True, [0.5]])
def test_invalid_threshold_is_a_400(byom: RunningServer, threshold: Any) -> None:
    response = byom.post(b64_request(encode(blank()), threshold=threshold))
    assert response.status_code == 400
    assert "threshold" in response.json()["error"]


# --- bad input ------------------------------------------------------------------------------------


def assert_failed(response: requests.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert_v7_valid(body)
    assert body["status"] == "failed"
    assert words in body["error"], body["error"]
    assert "Traceback" not in response.text


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


# --- auth -----------------------------------------------------------------------------------------


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


# --- detector.py, called directly -----------------------------------------------------------------


def as_array(im: Image.Image) -> Pixels:
    return np.asarray(im, dtype=np.uint8)


def test_detect_shapes_directly() -> None:
    shapes = detector.detect_shapes(as_array(four_shapes()))
    # Reading order: by top edge, then left edge.
    assert [d.name for d in shapes] == ["rectangle", "circle", "triangle", "square"]
    assert shapes[0].box == RECT
    assert shapes[3].box == SQUARE


def test_rotated_rectangle_gets_its_axis_aligned_box() -> None:
    img = np.full((240, 320, 3), 255, np.uint8)
    corners = cv2.boxPoints(((160, 120), (120, 50), 30)).round().astype(np.int32)
    cv2.fillPoly(img, [corners], (0, 0, 0))
    (shape,) = detector.detect_shapes(img)
    assert shape.name == "rectangle"
    x, y = corners.min(axis=0)
    w, h = corners.max(axis=0) - corners.min(axis=0) + 1
    assert shape.box is not None
    assert all(abs(a - int(e)) <= TOL for a, e in zip(shape.box, (x, y, w, h), strict=True)), shape.box


@pytest.mark.parametrize("sides", [5, 6])
def test_polygons_that_fit_no_shape_are_not_reported(sides: int) -> None:
    img = np.full((240, 320, 3), 255, np.uint8)
    angles = 2 * np.pi * np.arange(sides) / sides
    points = np.stack([160 + 80 * np.cos(angles), 120 + 80 * np.sin(angles)], axis=1).round().astype(np.int32)
    cv2.fillPoly(img, [points], (0, 0, 0))
    assert detector.detect_shapes(img) == []


def test_confidence_measures_the_fit() -> None:
    perfect = detector.detect_shapes(as_array(draw_rect(blank(), RECT)))[0]
    bitten = draw_rect(draw_rect(blank(), RECT), (40, 30, 16, 12), "white")
    dented = detector.detect_shapes(as_array(bitten))[0]
    assert perfect.name == dented.name == "rectangle"
    assert perfect.confidence == pytest.approx(1.0)
    assert detector.MIN_SHAPE_FIT <= dented.confidence < perfect.confidence - 0.02


def test_noisy_photo_like_image_has_no_shapes() -> None:
    noise = np.random.default_rng(7).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert detector.detect_shapes(noise) == []
    assert [d.name for d in detector.detect(noise)] == ["medium"]


def test_specks_are_ignored() -> None:
    img = np.full((240, 320, 3), 255, np.uint8)
    img[100:104, 100:104] = 0
    assert detector.detect_shapes(img) == []


@pytest.mark.parametrize(
    ("level", "name"),
    [(0, "dark"), (60, "dark"), (128, "medium"), (200, "bright"), (255, "bright")],
)
def test_brightness_tag(level: int, name: str) -> None:
    tag = detector.brightness_tag(np.full((20, 30, 3), level, np.uint8))
    assert tag.name == name and tag.is_tag
    assert 0.65 <= tag.confidence <= 1.0
    assert tag.to_v7() == {"name": name, "label": name, "confidence": round(tag.confidence, 4), "tag": {}}


def test_brightness_confidence_grows_into_the_band() -> None:
    def confidence(level: int) -> float:
        return detector.brightness_tag(np.full((20, 30, 3), level, np.uint8)).confidence

    assert confidence(0) > confidence(40) > confidence(80)
    assert confidence(255) > confidence(220) > confidence(180)
    assert confidence(128) > confidence(100) > confidence(95)


def test_grey_and_rgba_inputs_are_accepted() -> None:
    rgb = as_array(draw_rect(blank(), RECT))
    grey: Pixels = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    for img in (grey, rgba):
        assert [d.box for d in detector.detect_shapes(img)] == [RECT]


def test_invalid_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        detector.detect(np.zeros((10, 10, 2), np.uint8))


def test_face_cascade_is_loaded_once() -> None:
    assert detector.face_cascade() is detector.face_cascade()
    assert not detector.face_cascade().empty()


def test_detect_faces_directly() -> None:
    faces = detector.detect_faces(synthetic_face(240))
    assert [f.name for f in faces] == ["face"]
    # Confidence follows the cascade's evidence (agreeing windows), so it differs between sizes.
    small, large = (detector.detect_faces(synthetic_face(size))[0].confidence for size in (160, 320))
    assert small != large
    assert 0.5 <= min(small, large) <= max(small, large) < 1.0
    assert detector.detect_faces(as_array(four_shapes())) == []


def test_every_emitted_result_is_a_declared_v7_result() -> None:
    images: list[Callable[[], Pixels]] = [
        lambda: as_array(four_shapes()),
        lambda: synthetic_face(240),
        lambda: np.zeros((50, 50, 3), np.uint8),
    ]
    for make in images:
        results = detector.detect_v7(make())
        assert_v7_valid({"status": "succeeded", "results": results})
        assert_matches_classes(results)


def test_concurrent_first_requests_with_different_images_all_succeed(tmp_path: Path) -> None:
    # A Haar cascade shared between threads crashed the whole server (SIGSEGV) on the first
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
