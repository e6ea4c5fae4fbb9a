"""The one outbound client and media resolution, against real HTTP servers on loopback."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image

from core.clients import HubSession, fetch_bytes, request_json, session_for
from core.errors import UpstreamBadAnswer, UpstreamTimeout, UpstreamUnavailable
from inference import media
from inference.media import LabelStudioAccess, prepare_image, resolve_media
from tests.processes import free_port
from wow_ai_hub.media import MediaError

Route = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


class Server:
    def __init__(self, routes: dict[str, Route]) -> None:
        self.hits: list[tuple[str, str, dict[str, str], int]] = []  # method, path, headers, client port
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.hits.append((self.command, self.path, dict(self.headers), self.client_address[1]))
                route = routes.get(self.path.split("?")[0])
                status, headers, body = route(self) if route else (404, {}, b"")
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, Route]], Server]]:
    servers: list[Server] = []

    def start(routes: dict[str, Route]) -> Server:
        servers.append(Server(routes))
        return servers[-1]

    yield start
    for server in servers:
        server.httpd.shutdown()


def ok_json(body: Any) -> Route:
    return lambda _: (200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def test_a_call_without_timeout_gets_the_settings_timeout(serve: Any, settings: Any) -> None:
    settings.HUB_OUTBOUND_TIMEOUT = (1.0, 0.3)

    def slow(_: Any) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.5)
        return 200, {}, b"{}"

    server = serve({"/slow": slow})
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="did not answer in time"):
        request_json(HubSession(), "GET", server.url + "/slow")
    assert time.monotonic() - started < 1.2


def test_failures_map_to_our_errors_without_retries_or_secrets(serve: Any) -> None:
    server = serve(
        {
            "/boom": lambda _: (500, {}, b"oops"),
            "/auth": lambda _: (401, {}, b""),
            "/html": lambda _: (200, {}, b"<html>"),
        }
    )
    session = HubSession()
    with pytest.raises(UpstreamBadAnswer, match="HTTP 500") as boom:
        request_json(
            session, "POST", server.url + "/boom?token=s3cret", json={"a": 1}, auth=("user", "hunter2")
        )
    assert "s3cret" not in str(boom.value.detail) and "hunter2" not in str(boom.value.detail)
    with pytest.raises(UpstreamBadAnswer, match="authentication refused"):
        request_json(session, "GET", server.url + "/auth")
    with pytest.raises(UpstreamBadAnswer, match="not JSON"):
        request_json(session, "GET", server.url + "/html")
    assert [(m, p.split("?")[0]) for m, p, _, _ in server.hits] == [
        ("POST", "/boom"),
        ("GET", "/auth"),
        ("GET", "/html"),
    ]
    with pytest.raises(UpstreamUnavailable, match="unreachable"):
        request_json(session, "GET", f"http://127.0.0.1:{free_port()}/x")


def test_bodies_are_bounded(serve: Any, settings: Any) -> None:
    settings.HUB_MAX_UPSTREAM_RESPONSE_BYTES = 100
    server = serve({"/big": ok_json(["x" * 500]), "/file": lambda _: (200, {}, b"y" * 500)})
    with pytest.raises(UpstreamBadAnswer, match="more than the 100"):
        request_json(HubSession(), "GET", server.url + "/big")
    with pytest.raises(UpstreamBadAnswer, match="more than the 100"):
        fetch_bytes(HubSession(), server.url + "/file", max_bytes=100)
    assert fetch_bytes(HubSession(), server.url + "/file", max_bytes=500)[0] == b"y" * 500


def test_sessions_are_pooled_and_keep_connections_alive(serve: Any) -> None:
    server = serve({"/ok": ok_json({"ok": True})})
    session = session_for(("test", server.url), pool_size=2)
    assert session is session_for(("test", server.url), pool_size=2)
    for _ in range(5):
        assert request_json(session, "GET", server.url + "/ok") == {"ok": True}
    assert len({port for *_, port in server.hits}) == 1  # one TCP connection for five calls


def test_redirects_are_followed_by_hand_and_auth_never_leaves_its_host(serve: Any) -> None:
    other = serve({"/file": lambda _: (200, {"Content-Type": "image/png"}, b"PNG")})
    cross = other.url.replace("127.0.0.1", "localhost")
    first = serve(
        {
            "/same": lambda _: (302, {"Location": "/final"}, b""),
            "/final": lambda _: (200, {}, b"done"),
            "/away": lambda _: (302, {"Location": cross + "/file"}, b""),
            "/loop": lambda _: (302, {"Location": "/loop"}, b""),
            "/ftp": lambda _: (302, {"Location": "ftp://example.invalid/x"}, b""),
        }
    )
    auth = {"Authorization": "Token abc"}
    assert fetch_bytes(HubSession(), first.url + "/same", headers=auth)[0] == b"done"
    assert first.hits[-1][2].get("Authorization") == "Token abc"
    assert fetch_bytes(HubSession(), first.url + "/away", headers=auth) == (b"PNG", "image/png")
    assert "Authorization" not in other.hits[-1][2]
    with pytest.raises(UpstreamBadAnswer, match="redirected more than 3 times"):
        fetch_bytes(HubSession(), first.url + "/loop")
    assert [path for _, path, _, _ in first.hits].count("/loop") == 4  # the call and three redirects
    with pytest.raises(UpstreamBadAnswer, match="non-http"):
        fetch_bytes(HubSession(), first.url + "/ftp")


def jwt(claims: dict[str, Any]) -> str:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{part}.signature"


def png_bytes(size: tuple[int, int] = (40, 20), orientation: int | None = None, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, "white")
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(buffer, format=fmt, exif=exif.tobytes())
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def label_studio(serve: Any) -> Server:
    access = jwt({"exp": time.time() + 300, "token_type": "access"})

    def protected(body: bytes) -> Route:
        def route(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
            allowed = handler.headers.get("Authorization") in ("Token abc", f"Bearer {access}")
            return (200, {"Content-Type": "text/plain"}, body) if allowed else (401, {}, b"")

        return route

    def presign(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        fileuri = handler.path.split("fileuri=")[1]
        uri = base64.urlsafe_b64decode(fileuri + "=" * (-len(fileuri) % 4)).decode()
        return protected(f"presigned {uri}".encode())(handler)

    server: Server = serve(
        {
            "/data/upload/1/x.txt": protected(b"uploaded"),
            "/data/local-files/": protected(b"local"),
            "/tasks/7/presign/": presign,
            "/api/token/refresh/": ok_json({"access": access}),
        }
    )
    return server


def test_label_studio_media_with_a_legacy_token(label_studio: Server) -> None:
    access = LabelStudioAccess(label_studio.url, "abc")
    assert resolve_media("/data/upload/1/x.txt", task_id=1, access=access)[0] == b"uploaded"
    assert resolve_media("upload/1/x.txt", task_id=1, access=access)[0] == b"uploaded"
    assert resolve_media("/data/local-files/?d=dir/x.png", task_id=1, access=access)[0] == b"local"
    assert (
        resolve_media(label_studio.url + "/data/upload/1/x.txt", task_id=1, access=access)[0] == b"uploaded"
    )
    assert (
        resolve_media("s3://bucket/a b.png", task_id=7, access=access)[0] == b"presigned s3://bucket/a b.png"
    )
    assert {h.get("Authorization") for _, _, h, _ in label_studio.hits} == {"Token abc"}


def test_task_media_is_bounded_by_the_media_limit(label_studio: Server, settings: Any) -> None:
    access = LabelStudioAccess(label_studio.url, "abc")
    settings.HUB_MAX_MEDIA_BYTES = len(b"uploaded") - 1
    with pytest.raises(MediaError, match="more than the 7"):
        resolve_media("/data/upload/1/x.txt", task_id=1, access=access)
    settings.HUB_MAX_MEDIA_BYTES = len(b"uploaded")
    assert resolve_media("/data/upload/1/x.txt", task_id=1, access=access)[0] == b"uploaded"


def test_a_personal_access_token_is_exchanged_once(label_studio: Server) -> None:
    media._access_tokens.clear()
    access = LabelStudioAccess(label_studio.url, jwt({"exp": time.time() + 3600, "token_type": "refresh"}))
    for _ in range(2):
        assert resolve_media("/data/upload/1/x.txt", task_id=1, access=access)[0] == b"uploaded"
    paths = [p for _, p, _, _ in label_studio.hits]
    assert paths.count("/api/token/refresh/") == 1
    assert label_studio.hits[-1][2]["Authorization"].startswith("Bearer ")


def test_foreign_hosts_get_no_label_studio_token(label_studio: Server, serve: Any, settings: Any) -> None:
    foreign = serve({"/img.png": lambda _: (200, {}, b"img")})
    settings.HUB_MEDIA_ALLOWED_HOSTS = [foreign.url.removeprefix("http://")]  # a media host on loopback
    resolve_media(foreign.url + "/img.png", task_id=1, access=LabelStudioAccess(label_studio.url, "abc"))
    assert "Authorization" not in foreign.hits[-1][2]


@pytest.mark.parametrize(
    ("value", "content"),
    [("data:text/plain;base64,aGVsbG8=", b"hello"), ("data:text/plain,hi%20there", b"hi there")],
)
def test_data_uris(value: str, content: bytes) -> None:
    assert resolve_media(value, task_id=None, access=None)[0] == content


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("data:image/png;base64,@@@", "not valid base64"),
        ("/data/upload/1/x.txt", "no address"),
        ("s3://bucket/key", "needs the project's Label Studio"),
        ("just some text", "cannot fetch media"),
    ],
)
def test_media_that_cannot_be_had_says_why(value: str, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        resolve_media(value, task_id=None, access=None)


def test_images_are_measured_upright() -> None:
    plain = png_bytes()
    prepared = prepare_image(plain)
    assert (prepared.width, prepared.height, prepared.content) == (40, 20, plain)
    rotated = png_bytes(orientation=6, fmt="JPEG")
    upright = prepare_image(rotated)
    assert (upright.width, upright.height, upright.content_type) == (20, 40, "image/jpeg")
    assert upright.content != rotated
    with Image.open(io.BytesIO(upright.content)) as reopened:
        assert reopened.size == (20, 40) and reopened.getexif().get(0x0112, 1) == 1
    with pytest.raises(MediaError, match="not an image"):
        prepare_image(b"garbage")


def test_credentials_written_into_a_url_are_sent_as_basic_auth_and_never_shown(serve: Any) -> None:
    server = serve({"/ok": ok_json({"ok": True}), "/boom": lambda _: (500, {}, b"")})
    with_credentials = server.url.replace("http://", "http://us%40er:p%3Ass@")
    assert request_json(HubSession(), "GET", with_credentials + "/ok") == {"ok": True}
    assert server.hits[-1][2]["Authorization"] == "Basic " + base64.b64encode(b"us@er:p:ss").decode()
    with pytest.raises(UpstreamBadAnswer, match="HTTP 500") as boom:
        request_json(HubSession(), "GET", with_credentials + "/boom")
    assert "p%3Ass" not in str(boom.value.detail) and "us%40er" not in str(boom.value.detail)
