"""A stdlib HTTP server speaking V7 Darwin's "Bring Your Own Model" contract around detector.py.

    python -m examples.byom_detector.server --host 127.0.0.1 --port 9091

POST /api/infer   {"image": {"url": ...} | {"base64": ...}, "threshold"?: 0..1}
                  -> {"status": "succeeded", "results": [...]}
GET  /api/classes -> [{"name": ..., "type": ...}, ...]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import io
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import requests
from PIL import Image, ImageOps, UnidentifiedImageError

from examples.byom_detector import detector

log = logging.getLogger("byom_detector")

INFER_PATH = "/api/infer"
CLASSES_PATH = "/api/classes"
# Largest image accepted, whether downloaded or sent inline.
DEFAULT_MAX_IMAGE_MB = 20
# Base64 inflates by 4/3; leave room for the JSON around it.
BODY_OVERHEAD = 1.5
# Bigger images are refused before decoding, so a tiny PNG cannot expand into gigabytes of pixels.
MAX_IMAGE_PIXELS = 40_000_000
# V7 gives a model 30 s per call; stop downloading well before that.
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S = 15.0
DOWNLOAD_DEADLINE_S = 20.0
DOWNLOAD_CHUNK = 64 * 1024
# A client that stalls mid-request must not hold a worker thread forever.
SOCKET_TIMEOUT_S = 5.0


class BadRequest(Exception):
    """The request cannot be served; the message is shown to the caller as-is."""


@dataclass(frozen=True)
class Settings:
    basic_user: str | None = None
    basic_pass: str | None = None
    header_name: str | None = None
    header_secret: str | None = None
    max_image_bytes: int = DEFAULT_MAX_IMAGE_MB * 1024 * 1024
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_image_bytes * BODY_OVERHEAD) + 64 * 1024


# --- request parsing ------------------------------------------------------------------------------


def parse_infer_request(body: bytes) -> tuple[dict[str, Any], float]:
    """The `image` object and the threshold (0 when absent) of an inference request body."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object")
    image = payload.get("image")
    if not isinstance(image, dict):
        raise BadRequest('missing "image": send {"image": {"url": "..."}} or {"image": {"base64": "..."}}')
    return image, parse_threshold(payload.get("threshold"))


def parse_threshold(value: object) -> float:
    if value is None:
        return 0.0
    # bool is an int subclass; true/false is not a threshold.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise BadRequest(f'"threshold" must be a number between 0 and 1, got {value!r}')
    return float(value)


def image_bytes(image: dict[str, Any], settings: Settings) -> bytes:
    """The image file bytes named by the request's `image` object."""
    if isinstance(image.get("base64"), str):
        return decode_base64(image["base64"], settings.max_image_bytes)
    if isinstance(image.get("url"), str):
        return download(image["url"], settings)
    raise BadRequest('"image" must hold a string "url" or a string "base64"')


def decode_base64(text: str, max_bytes: int) -> bytes:
    # V7 strips the data: prefix; tolerate clients that do not.
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    compact = "".join(text.split())
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f'"image.base64" is not valid base64: {exc}') from None
    if not data:
        raise BadRequest('"image.base64" is empty')
    if len(data) > max_bytes:
        raise BadRequest(f"image is larger than {max_bytes} bytes")
    return data


def download(url: str, settings: Settings) -> bytes:
    """GET the image, streaming, with bounded timeouts, time and size."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise BadRequest(f'"image.url" must be an http or https URL, got {url[:200]!r}')
    limit = settings.max_image_bytes
    try:
        with requests.get(
            url, stream=True, timeout=(settings.connect_timeout_s, settings.read_timeout_s)
        ) as response:
            if response.status_code != HTTPStatus.OK:
                raise BadRequest(f"fetching image.url failed: HTTP {response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise BadRequest(f"image at image.url is larger than {limit} bytes")
            return _read_limited(response, limit)
    except requests.RequestException as exc:
        raise BadRequest(f"fetching image.url failed: {type(exc).__name__}: {exc}") from None


def _read_limited(response: requests.Response, limit: int) -> bytes:
    # The read timeout is per chunk, so a slow drip could last forever without a deadline.
    deadline = time.monotonic() + DOWNLOAD_DEADLINE_S
    buffer = bytearray()
    for chunk in response.iter_content(DOWNLOAD_CHUNK):
        buffer.extend(chunk)
        if len(buffer) > limit:
            raise BadRequest(f"image at image.url is larger than {limit} bytes")
        if time.monotonic() > deadline:
            raise BadRequest(f"fetching image.url took longer than {DOWNLOAD_DEADLINE_S:.0f} s")
    if not buffer:
        raise BadRequest("image at image.url is empty")
    return bytes(buffer)


def decode_image(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """RGB pixels of the image file, turned upright by its EXIF orientation, because coordinates
    must refer to the image as a viewer (and Label Studio) shows it."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if width * height > MAX_IMAGE_PIXELS:
                raise BadRequest(f"image is {width}x{height}; more than {MAX_IMAGE_PIXELS} pixels")
            upright = ImageOps.exif_transpose(opened)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except UnidentifiedImageError:
        # Pillow's own message names an in-memory buffer, which tells the caller nothing.
        raise BadRequest("could not decode the image: not a supported image file (PNG, JPEG, ...)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadRequest(f"could not decode the image: {type(exc).__name__}: {exc}") from None


def infer(body: bytes, settings: Settings) -> dict[str, Any]:
    image, threshold = parse_infer_request(body)
    pixels = decode_image(image_bytes(image, settings))
    return {"status": "succeeded", "results": detector.detect_v7(pixels, threshold)}


# --- auth -----------------------------------------------------------------------------------------


def is_authorised(headers: Message[str, str], settings: Settings) -> bool:
    """Every configured scheme must pass; with none configured, everyone may call."""
    if settings.basic_user is not None and not _basic_ok(headers.get("Authorization", ""), settings):
        return False
    if settings.header_name is not None:
        sent = headers.get(settings.header_name, "")
        if not hmac.compare_digest(sent.encode(), (settings.header_secret or "").encode()):
            return False
    return True


def _basic_ok(header: str, settings: Settings) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError):
        return False
    # Compare both parts every time so timing does not tell which one was wrong.
    user_ok = hmac.compare_digest(user.encode(), (settings.basic_user or "").encode())
    pass_ok = hmac.compare_digest(password.encode(), (settings.basic_pass or "").encode())
    return bool(sep) and user_ok and pass_ok


# --- HTTP -----------------------------------------------------------------------------------------


class DetectorServer(ThreadingHTTPServer):
    # Let in-flight requests finish on shutdown; SOCKET_TIMEOUT_S bounds how long that can take.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], settings: Settings) -> None:
        self.settings = settings
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    server: DetectorServer
    server_version = "byom-detector/1.0"
    # Keep-alive: a gateway fanning a batch out reuses its connections instead of reconnecting per image.
    protocol_version = "HTTP/1.1"
    # Keep-alive with Nagle on would hold each body until the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True
    timeout = SOCKET_TIMEOUT_S

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def _route(self, method: str) -> None:
        self._started = time.monotonic()
        path = urlsplit(self.path).path.rstrip("/")
        allowed = {INFER_PATH: "POST", CLASSES_PATH: "GET"}.get(path)
        if allowed is None:
            self._fail(HTTPStatus.NOT_FOUND, f"no such endpoint: {path or '/'}")
        elif not is_authorised(self.headers, self.server.settings):
            self._fail(HTTPStatus.UNAUTHORIZED, "missing or invalid credentials")
        elif method != allowed:
            self._fail(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} accepts {allowed} only", {"Allow": allowed})
        elif path == CLASSES_PATH:
            self._send_json(HTTPStatus.OK, detector.CLASSES)
        else:
            self._handle_infer()

    def _handle_infer(self) -> None:
        try:
            body = self._read_body()
            self._send_json(HTTPStatus.OK, infer(body, self.server.settings))
        except BadRequest as exc:
            self._fail(HTTPStatus.BAD_REQUEST, str(exc))
        except Exception:
            # Log the traceback here; the caller only learns that it failed.
            log.exception("inference failed")
            self._fail(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error while running the detector")

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            raise BadRequest("a Content-Length header is required")
        if int(length) > self.server.settings.max_body_bytes:
            # Do not read it: _fail closes the connection after this response.
            raise BadRequest(f"request body is larger than {self.server.settings.max_body_bytes} bytes")
        return self.rfile.read(int(length))

    def _fail(self, status: HTTPStatus, message: str, headers: dict[str, str] | None = None) -> None:
        # The request body may be unread; closing is the only safe end of a keep-alive connection.
        self.close_connection = True
        extra = {"Connection": "close", **(headers or {})}
        if status == HTTPStatus.UNAUTHORIZED and self.server.settings.basic_user is not None:
            extra["WWW-Authenticate"] = 'Basic realm="byom-detector"'
        self._send_json(status, {"status": "failed", "error": message, "results": []}, extra)

    def _send_json(self, status: HTTPStatus, payload: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, allow_nan=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # One line per request, without bodies (they can be megabytes of base64).
        elapsed_ms = (time.monotonic() - getattr(self, "_started", time.monotonic())) * 1000
        status = code.value if isinstance(code, HTTPStatus) else code
        client = self.client_address[0]
        log.info("%s %s %s %s %.0fms", client, self.command, self.path[:200], status, elapsed_ms)

    def log_message(self, format: str, *args: Any) -> None:
        log.warning("%s %s", self.client_address[0], format % args)


# --- command line ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> tuple[str, int, Settings]:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m examples.byom_detector.server",
        description="V7 BYOM-compatible shape and face detector.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9091, help="port to bind; 0 picks a free one")
    parser.add_argument("--basic-auth-user", default=env.get("BYOM_BASIC_AUTH_USER"))
    parser.add_argument("--basic-auth-pass", default=env.get("BYOM_BASIC_AUTH_PASS"))
    parser.add_argument("--auth-header-name", default=env.get("BYOM_AUTH_HEADER_NAME"))
    parser.add_argument("--auth-secret", default=env.get("BYOM_AUTH_SECRET"))
    parser.add_argument("--max-image-mb", type=float, default=DEFAULT_MAX_IMAGE_MB)
    parser.add_argument("--connect-timeout", type=float, default=DEFAULT_CONNECT_TIMEOUT_S)
    parser.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT_S)
    args = parser.parse_args(argv)
    # Half-configured auth would silently leave the server open or locked; refuse to start.
    if (args.basic_auth_user is None) != (args.basic_auth_pass is None):
        parser.error("--basic-auth-user and --basic-auth-pass go together")
    if (args.auth_header_name is None) != (args.auth_secret is None):
        parser.error("--auth-header-name and --auth-secret go together")
    if args.auth_secret == "" or args.basic_auth_pass == "":
        parser.error("auth secrets must not be empty")
    settings = Settings(
        basic_user=args.basic_auth_user,
        basic_pass=args.basic_auth_pass,
        header_name=args.auth_header_name,
        header_secret=args.auth_secret,
        max_image_bytes=int(args.max_image_mb * 1024 * 1024),
        connect_timeout_s=args.connect_timeout,
        read_timeout_s=args.read_timeout,
    )
    return args.host, args.port, settings


def serve(host: str, port: int, settings: Settings) -> None:
    server = DetectorServer((host, port), settings)
    bound_host, bound_port = server.server_address[:2]

    def stop(signum: int, _frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, which runs in this very thread, and a
        # signal handler should not take locks (logging does): do both from another thread.
        threading.Thread(target=_shut_down, args=(server, signum), daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"byom-detector listening on http://{bound_host!s}:{bound_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        log.info("stopped")


def _shut_down(server: DetectorServer, signum: int) -> None:
    log.info("received %s, shutting down", signal.Signals(signum).name)
    server.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    host, port, settings = parse_args(argv)
    serve(host, port, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
