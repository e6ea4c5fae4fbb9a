"""Images named by tasks cost a worker what their files cost, not what their pixels would: sizes and
EXIF orientation come from the headers, pixels are decoded only to turn an image upright, and a
worker holds at most HUB_MAX_DECODED_PIXELS decoded at once (beyond it the task gets an error).

Before: six 10000x10000 PNGs of 300 KB each, as data: URIs, took one worker to 5.3 GB: reading a
PNG's orientation decoded it (``bench/image_memory.py`` measures the peak)."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from PIL import Image, ImageFile

from registry.models import RegisteredModel
from tests.conftest import QuietHandler, serving

pytestmark = pytest.mark.django_db(transaction=True)

CONFIG = '<View><Image name="image" value="$image"/><Choices name="c" toName="image"><Choice value="A"/></Choices></View>'


def blank_png(width: int, height: int) -> bytes:
    """A grey PNG of any size, compressed row by row (the test never holds its pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row, parts = zlib.compressobj(9), b"\x00" + b"\x80" * width, []
    for _ in range(height):
        parts.append(packer.compress(row))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")
    )


def rotated_jpeg(width: int, height: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees: the Hub must decode it to send it upright
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def data_uri(content: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(content).decode()}"


class ModelServer(QuietHandler):
    """A V7 model server that answers every image with no result and keeps the sizes it was sent."""

    sizes: list[tuple[int, int]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with Image.open(io.BytesIO(base64.b64decode(body["image"]["base64"]))) as image:
            ModelServer.sizes.append(image.size)
        self.reply(200, json.dumps({"status": "succeeded", "results": []}).encode(), "application/json")


@pytest.fixture
def model_server() -> Iterator[str]:
    ModelServer.sizes = []
    with serving(ModelServer) as url:
        yield url


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every image Pillow decodes in this process (observed, then decoded as usual)."""
    seen: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> Any:
        if getattr(self, "_im", None) is None:  # not yet decoded: this call decodes it
            seen.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return seen


def predict(client: Client, server: str, images: list[str]) -> tuple[RegisteredModel, dict[str, Any]]:
    model = RegisteredModel.objects.create(
        name="detector", slug="detector", kind="http", url=f"{server}/infer", max_concurrency=6
    )
    tasks = [{"id": i, "data": {"image": value}} for i, value in enumerate(images, start=1)]
    response = client.post(
        "/ml/detector/predict",
        json.dumps({"tasks": tasks, "label_config": CONFIG}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content[:500]
    model.refresh_from_db()
    return model, response.json()


def test_six_huge_pngs_are_sent_without_decoding_a_pixel(
    client: Client, model_server: str, decodes: list[tuple[int, int]], settings: Any
) -> None:
    settings.HUB_MAX_DECODED_PIXELS = 0  # no decoding allowed at all: none is needed
    huge = data_uri(blank_png(10_000, 10_000), "image/png")
    model, body = predict(client, model_server, [huge] * 6)
    assert len(body["results"]) == 6 and model.errors_total == 0, model.last_error
    assert decodes == []
    assert len(ModelServer.sizes) == 6


def test_a_decode_beyond_the_workers_pixel_budget_is_that_tasks_error(
    client: Client, model_server: str, decodes: list[tuple[int, int]], settings: Any
) -> None:
    settings.HUB_MAX_DECODED_PIXELS = 2 * 300 * 200  # one 300x200 image and its turned copy
    small, large = rotated_jpeg(300, 200), rotated_jpeg(600, 400)
    model, body = predict(
        client, model_server, [data_uri(small, "image/jpeg"), data_uri(large, "image/jpeg")]
    )
    assert [r["result"] for r in body["results"]] == [[], []]
    assert model.errors_total == 1 and "HUB_MAX_DECODED_PIXELS" in model.last_error
    assert decodes == [(300, 200)]  # the large one was refused before decoding
    assert ModelServer.sizes == [(200, 300)]  # sent upright


def test_an_image_over_the_pixel_cap_is_refused_unread(
    client: Client, model_server: str, decodes: list[tuple[int, int]], settings: Any
) -> None:
    settings.HUB_MAX_IMAGE_PIXELS = 1_000_000
    model, body = predict(client, model_server, [data_uri(blank_png(2_000, 1_000), "image/png")])
    assert body["results"][0]["result"] == []
    assert model.errors_total == 1 and "HUB_MAX_IMAGE_PIXELS" in model.last_error
    assert decodes == [] and ModelServer.sizes == []
