"""Images drawn for the detector, and assertions on where it found their shapes."""

from __future__ import annotations

import base64
import io
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

Pixels = npt.NDArray[np.uint8]
TOL = 3
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


def as_array(im: Image.Image) -> Pixels:
    return np.asarray(im, dtype=np.uint8)
