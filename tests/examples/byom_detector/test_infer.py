"""The server's /api/classes and /api/infer: what it detects, where, and the threshold."""

from __future__ import annotations

import io
from typing import Any

import pytest
import requests
from PIL import Image

from tests.examples.byom_detector.images import (
    CIRCLE,
    RECT,
    SQUARE,
    TRIANGLE,
    assert_box,
    assert_path,
    b64_request,
    blank,
    by_name,
    circle_box,
    draw_circle,
    draw_rect,
    encode,
    four_shapes,
    synthetic_face,
)
from tests.examples.byom_detector.servers import (
    HTTP_TIMEOUT,
    ImageHost,
    Route,
    RunningServer,
)
from tests.examples.byom_detector.v7_schema import assert_matches_classes


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
