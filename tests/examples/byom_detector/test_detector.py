"""detector.py, called directly: shapes, brightness, faces, and every result a declared V7 result."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from examples.byom_detector import detector
from tests.examples.byom_detector.images import (
    RECT,
    SQUARE,
    TOL,
    Pixels,
    as_array,
    blank,
    draw_rect,
    four_shapes,
    synthetic_face,
)
from tests.examples.byom_detector.v7_schema import assert_matches_classes, assert_v7_valid


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
