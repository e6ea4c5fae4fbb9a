"""A small deterministic detector: plain-background shapes, frontal faces and an image brightness tag.

Pure functions on a numpy array (H x W x 3 RGB or BGR, or H x W grey, uint8); no I/O besides loading
OpenCV's shipped Haar cascade once. Results are already in V7 BYOM form (absolute pixels of the array).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt
from cv2.typing import MatLike

Image = npt.NDArray[np.uint8]
# What cv2.findContours returns for one contour.
Contour = MatLike

# Every class the detector can emit, with its V7 annotation type (served by GET /api/classes).
CLASSES: Final[list[dict[str, str]]] = [
    {"name": "rectangle", "type": "bounding_box"},
    {"name": "square", "type": "bounding_box"},
    {"name": "circle", "type": "bounding_box"},
    {"name": "triangle", "type": "polygon"},
    {"name": "face", "type": "bounding_box"},
    {"name": "dark", "type": "tag"},
    {"name": "medium", "type": "tag"},
    {"name": "bright", "type": "tag"},
]

# A pixel belongs to a shape when one of its channels differs this much from the background colour;
# large enough to ignore JPEG ringing, small enough to catch pale shapes on white.
FOREGROUND_DELTA: Final = 40
# Share of border pixels that must match the background colour for the image to count as "plain";
# photos fail this, so the shape detector does not invent shapes in them.
PLAIN_BORDER_SHARE: Final = 0.6
# A contour must fill at least this share of its ideal shape to be reported; it rejects pentagons,
# hexagons and blobs, which would otherwise come out as poor circles.
MIN_SHAPE_FIT: Final = 0.85
# Shapes smaller than this (pixels, or share of the image) are noise.
MIN_SHAPE_AREA_PX: Final = 64
MIN_SHAPE_AREA_SHARE: Final = 0.0002
# A rectangle whose sides differ by less than this ratio is a square.
SQUARE_SIDE_RATIO: Final = 0.95
# Mean brightness (0..1) limits of the "dark" and "bright" tags.
DARK_BELOW: Final = 0.35
BRIGHT_ABOVE: Final = 0.65
# Haar cascade grouping: a face needs this many overlapping raw windows; the count drives confidence.
FACE_MIN_NEIGHBORS: Final = 5
FACE_MIN_SIZE_PX: Final = 30

_CASCADE_FILE: Final = "haarcascade_frontalface_default.xml"
_cascades = threading.local()
_cascade_load_lock = threading.Lock()


@dataclass(frozen=True)
class Detection:
    """One result; exactly one of box, path or is_tag describes its geometry."""

    name: str
    confidence: float
    box: tuple[int, int, int, int] | None = None  # x, y, w, h
    path: list[tuple[float, float]] = field(default_factory=list)
    is_tag: bool = False

    def to_v7(self) -> dict[str, Any]:
        """The V7 BYOM result object: name == label, one geometry key."""
        result: dict[str, Any] = {
            "name": self.name,
            "label": self.name,
            "confidence": round(min(max(self.confidence, 0.0), 1.0), 4),
        }
        if self.box is not None:
            x, y, w, h = self.box
            result["bounding_box"] = {"x": x, "y": y, "w": w, "h": h}
        elif self.path:
            result["polygon"] = {"path": [{"x": px, "y": py} for px, py in self.path]}
        else:
            result["tag"] = {}
        return result


def class_names() -> set[str]:
    return {c["name"] for c in CLASSES}


def detect(image: Image) -> list[Detection]:
    """All detections for one image: shapes (if the background is plain), faces, one brightness tag."""
    rgb = _as_three_channels(image)
    return [*detect_shapes(rgb), *detect_faces(rgb), brightness_tag(rgb)]


def detect_v7(image: Image, threshold: float = 0.0) -> list[dict[str, Any]]:
    """detect() as V7 result objects, without those whose confidence is below threshold."""
    # Filter on the rounded confidence the caller sees, so a threshold copied from a response keeps
    # that result.
    results = [d.to_v7() for d in detect(image)]
    return [r for r in results if r["confidence"] >= threshold]


def _as_three_channels(image: Image) -> Image:
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"expected an H x W, H x W x 3 or H x W x 4 image, got shape {image.shape}")


# --- brightness tag -------------------------------------------------------------------------------


def brightness_tag(image: Image) -> Detection:
    """dark / medium / bright by mean luminance; confidence grows with the distance into the band."""
    grey = cv2.cvtColor(_as_three_channels(image), cv2.COLOR_RGB2GRAY)
    level = float(grey.mean()) / 255.0
    if level < DARK_BELOW:
        return Detection("dark", 1.0 - level, is_tag=True)
    if level > BRIGHT_ABOVE:
        return Detection("bright", level, is_tag=True)
    # 1.0 at mid-grey, falling to 0.7 at the edges of the band.
    return Detection("medium", 1.0 - abs(level - 0.5) * 2.0, is_tag=True)


# --- shapes ---------------------------------------------------------------------------------------


def background_colour(image: Image) -> npt.NDArray[np.int16]:
    """The median colour of the one-pixel image border, taken as the plain background."""
    colour: npt.NDArray[np.int16] = np.median(_border_pixels(image), axis=0).astype(np.int16)
    return colour


def _border_pixels(image: Image) -> npt.NDArray[np.int16]:
    rows = [image[0, :, :], image[-1, :, :], image[:, 0, :], image[:, -1, :]]
    return np.concatenate(rows, axis=0).astype(np.int16)


def has_plain_background(image: Image) -> bool:
    border = _border_pixels(image)
    close = np.abs(border - background_colour(image)).max(axis=1) < FOREGROUND_DELTA
    return bool(close.mean() >= PLAIN_BORDER_SHARE)


def foreground_mask(image: Image) -> Image:
    """255 where a pixel differs clearly from the background colour, else 0."""
    diff = np.abs(image.astype(np.int16) - background_colour(image)).max(axis=2)
    return np.where(diff >= FOREGROUND_DELTA, 255, 0).astype(np.uint8)


def detect_shapes(image: Image) -> list[Detection]:
    """Circles, rectangles, squares and triangles on a plain background, ordered top-left first."""
    rgb = _as_three_channels(image)
    if not has_plain_background(rgb):
        return []
    height, width = rgb.shape[:2]
    min_area = max(MIN_SHAPE_AREA_PX, MIN_SHAPE_AREA_SHARE * width * height)
    contours, _ = cv2.findContours(foreground_mask(rgb), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    found = []
    for contour in contours:
        if cv2.contourArea(contour) < min_area:
            continue
        detection = classify_contour(contour)
        if detection is not None:
            found.append(detection)
    return sorted(found, key=_reading_order)


def _reading_order(d: Detection) -> tuple[float, float]:
    if d.box is not None:
        return (d.box[1], d.box[0])
    return (min(y for _, y in d.path), min(x for x, _ in d.path))


def shape_fits(contour: Contour) -> dict[str, float]:
    """How much of each ideal enclosing shape the contour fills (1.0 = a perfect fit)."""
    area = float(cv2.contourArea(contour))
    (_, _), radius = cv2.minEnclosingCircle(contour)
    (_, _), (rect_w, rect_h), _ = cv2.minAreaRect(contour)
    triangle_area, _ = cv2.minEnclosingTriangle(contour)
    return {
        "circle": _ratio(area, math.pi * radius * radius),
        "rectangle": _ratio(area, rect_w * rect_h),
        "triangle": _ratio(area, float(triangle_area)),
    }


def _ratio(part: float, whole: float) -> float:
    return min(part / whole, 1.0) if whole > 0 else 0.0


def classify_contour(contour: Contour) -> Detection | None:
    """The best-fitting shape for one outer contour, or None if no ideal shape fits well enough."""
    fits = shape_fits(contour)
    kind = max(fits, key=lambda k: fits[k])
    fit = fits[kind]
    if fit < MIN_SHAPE_FIT:
        return None
    if kind == "triangle":
        return Detection("triangle", fit, path=triangle_path(contour))
    x, y, w, h = (int(v) for v in cv2.boundingRect(contour))
    if kind == "rectangle" and _is_square(contour):
        kind = "square"
    return Detection(kind, fit, box=(x, y, w, h))


def _is_square(contour: Contour) -> bool:
    (_, _), (rect_w, rect_h), _ = cv2.minAreaRect(contour)
    longer = max(rect_w, rect_h)
    return longer > 0 and min(rect_w, rect_h) / longer >= SQUARE_SIDE_RATIO


def triangle_path(contour: Contour) -> list[tuple[float, float]]:
    """Three corners: each corner of the minimum enclosing triangle snapped to the nearest contour
    point. The enclosing corners overshoot sharp tips and a Douglas-Peucker simplification can cut
    them, but the contour point nearest each enclosing corner is the shape's own tip pixel."""
    points = contour.reshape(-1, 2).astype(np.float64)
    _, corners = cv2.minEnclosingTriangle(contour)
    path = []
    for corner in corners.reshape(-1, 2):
        nearest = points[int(np.argmin(((points - corner) ** 2).sum(axis=1)))]
        path.append((float(nearest[0]), float(nearest[1])))
    return path


# --- faces ----------------------------------------------------------------------------------------


def face_cascade() -> cv2.CascadeClassifier:
    """OpenCV's shipped frontal-face Haar cascade, loaded once per thread on first use.

    One classifier per thread: detectMultiScale on a classifier shared between threads crashes the
    process (seen here as SIGSEGV with two concurrent requests)."""
    cascade: cv2.CascadeClassifier | None = getattr(_cascades, "cascade", None)
    if cascade is None:
        path = cv2.data.haarcascades + _CASCADE_FILE  # type: ignore[attr-defined]
        with _cascade_load_lock:  # loading is not thread-safe either
            cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise RuntimeError(f"could not load the Haar cascade {path}")
        _cascades.cascade = cascade
    return cascade


def detect_faces(image: Image) -> list[Detection]:
    """Frontal faces. Confidence n / (n + 5) grows with n, the number of raw cascade windows that
    agreed on the face: 0.5 at the minimum of 5 neighbours, about 0.8 at 20."""
    grey = cv2.equalizeHist(cv2.cvtColor(_as_three_channels(image), cv2.COLOR_RGB2GRAY))
    boxes, neighbours = face_cascade().detectMultiScale2(
        grey,
        scaleFactor=1.1,
        minNeighbors=FACE_MIN_NEIGHBORS,
        minSize=(FACE_MIN_SIZE_PX, FACE_MIN_SIZE_PX),
    )
    found = []
    for (x, y, w, h), n in zip(boxes, neighbours, strict=True):
        confidence = float(n) / (float(n) + FACE_MIN_NEIGHBORS)
        found.append(Detection("face", confidence, box=(int(x), int(y), int(w), int(h))))
    return sorted(found, key=_reading_order)
