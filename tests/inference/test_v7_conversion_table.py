"""Every V7 → Label Studio conversion the Hub makes, as a table (section 6 of the V7 reference)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from inference.kinds.http.v7 import (
    ImageSize,
    RegionTarget,
    V7ResponseError,
    parse_v7_response,
    v7_class_key,
    v7_geometry_kind,
    v7_result_to_regions,
)

IMAGE = ImageSize(width=400, height=200)
IMAGE_REGION = {"original_width": 400, "original_height": 200, "image_rotation": 0}


def target(control_type: str, label: str = "Car", textarea: str | None = None) -> RegionTarget:
    return RegionTarget(
        from_name="ctl", to_name="image", control_type=control_type, label=label, textarea_from_name=textarea
    )


def result(confidence: Any = 0.8, **geometry: Any) -> dict[str, Any]:
    return {"name": "car", "label": "car", "confidence": confidence, **geometry}


BOX: dict[str, Any] = {"bounding_box": {"x": 40, "y": 20, "w": 100, "h": 80}}

CONVERSIONS = [
    pytest.param(
        result(0.7, tag={}),
        target("Choices", "Night"),
        [{"type": "choices", "value": {"choices": ["Night"]}}],
        id="tag-to-choices",
    ),
    pytest.param(
        result(0.7, tag={}),
        target("Taxonomy", "Night"),
        [{"type": "taxonomy", "value": {"taxonomy": [["Night"]]}}],
        id="tag-to-taxonomy",
    ),
    pytest.param(
        result(**BOX),
        target("RectangleLabels"),
        [
            {
                "type": "rectanglelabels",
                **IMAGE_REGION,
                "value": {
                    "x": 10.0,
                    "y": 10.0,
                    "width": 25.0,
                    "height": 40.0,
                    "rotation": 0,
                    "rectanglelabels": ["Car"],
                },
            }
        ],
        id="box-to-rectangle",
    ),
    pytest.param(
        result(**BOX),
        target("PolygonLabels"),
        [
            {
                "type": "polygonlabels",
                **IMAGE_REGION,
                "value": {
                    "points": [[10.0, 10.0], [35.0, 10.0], [35.0, 50.0], [10.0, 50.0]],
                    "closed": True,
                    "polygonlabels": ["Car"],
                },
            }
        ],
        id="box-to-polygon",
    ),
    pytest.param(
        result(bounding_box={"x": -40, "y": 150, "w": 100, "h": 100}),
        target("RectangleLabels"),
        [
            {
                "type": "rectanglelabels",
                **IMAGE_REGION,
                "value": {
                    "x": 0.0,
                    "y": 75.0,
                    "width": 15.0,
                    "height": 25.0,
                    "rotation": 0,
                    "rectanglelabels": ["Car"],
                },
            }
        ],
        id="box-clamped-into-the-image",
    ),
    pytest.param(
        result(polygon={"path": [{"x": 0, "y": 0}, {"x": 400, "y": 0}, {"x": 200, "y": 200}]}),
        target("PolygonLabels"),
        [
            {
                "type": "polygonlabels",
                **IMAGE_REGION,
                "value": {
                    "points": [[0.0, 0.0], [100.0, 0.0], [50.0, 100.0]],
                    "closed": True,
                    "polygonlabels": ["Car"],
                },
            }
        ],
        id="polygon",
    ),
    pytest.param(
        result(keypoint={"x": 100, "y": 50}),
        target("KeyPointLabels"),
        [
            {
                "type": "keypointlabels",
                **IMAGE_REGION,
                "value": {"x": 25.0, "y": 25.0, "width": 0.75, "keypointlabels": ["Car"]},
            }
        ],
        id="keypoint",
    ),
    pytest.param(
        result(ellipse={"center": {"x": 200, "y": 100}, "radius": {"x": 40, "y": 20}, "angle": math.pi / 2}),
        target("EllipseLabels"),
        [
            {
                "type": "ellipselabels",
                **IMAGE_REGION,
                "value": {
                    "x": 50.0,
                    "y": 50.0,
                    "radiusX": 10.0,
                    "radiusY": 10.0,
                    "rotation": 90.0,
                    "ellipselabels": ["Car"],
                },
            }
        ],
        id="ellipse-radians-to-degrees",
    ),
    pytest.param(
        result(**BOX, text={"text": "AB12 CDE"}),
        target("RectangleLabels", "Plate", textarea="ocr"),
        [
            {
                "type": "rectanglelabels",
                **IMAGE_REGION,
                "value": {
                    "x": 10.0,
                    "y": 10.0,
                    "width": 25.0,
                    "height": 40.0,
                    "rotation": 0,
                    "rectanglelabels": ["Plate"],
                },
            },
            {
                "type": "textarea",
                "from_name": "ocr",
                **IMAGE_REGION,
                "value": {
                    "x": 10.0,
                    "y": 10.0,
                    "width": 25.0,
                    "height": 40.0,
                    "rotation": 0,
                    "text": ["AB12 CDE"],
                },
            },
        ],
        id="ocr-box-with-per-region-text",
    ),
    pytest.param(
        result(**BOX, text={"text": "AB12 CDE"}),
        target("RectangleLabels", "Plate"),
        [
            {
                "type": "rectanglelabels",
                **IMAGE_REGION,
                "value": {
                    "x": 10.0,
                    "y": 10.0,
                    "width": 25.0,
                    "height": 40.0,
                    "rotation": 0,
                    "rectanglelabels": ["Plate"],
                },
            }
        ],
        id="ocr-text-dropped-without-a-textarea",
    ),
]


@pytest.mark.parametrize(("v7", "to", "expected"), CONVERSIONS)
def test_conversion(v7: dict[str, Any], to: RegionTarget, expected: list[dict[str, Any]]) -> None:
    regions = v7_result_to_regions(v7, target=to, image=IMAGE, region_id="r1")
    assert regions is not None
    assert len(regions) == len(expected)
    for region, want in zip(regions, expected, strict=True):
        assert region["id"] == "r1"
        assert region["from_name"] == want.get("from_name", "ctl") and region["to_name"] == "image"
        assert region["score"] == v7["confidence"]
        assert {
            k: v for k, v in region.items() if k not in ("id", "from_name", "to_name", "score", "value")
        } == {k: v for k, v in want.items() if k not in ("from_name", "value")}
        assert_close(region["value"], want["value"])


def assert_close(actual: Any, expected: Any) -> None:
    """Equal, with floats compared to 1e-6 at any depth."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), (actual, expected)
        for key in expected:
            assert_close(actual[key], expected[key])
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (actual, expected)
        for a, e in zip(actual, expected, strict=True):
            assert_close(a, e)
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, abs=1e-6)
    else:
        assert actual == expected


@pytest.mark.parametrize(
    ("v7", "control_type"),
    [
        pytest.param(
            result(bounding_box={"x": 10, "y": 10, "w": 0, "h": 5}), "RectangleLabels", id="zero-width"
        ),
        pytest.param(
            result(bounding_box={"x": 500, "y": 10, "w": 50, "h": 5}),
            "RectangleLabels",
            id="outside-the-image",
        ),
        pytest.param(
            result(bounding_box={"x": "10", "y": 10, "w": 5, "h": 5}), "RectangleLabels", id="string-number"
        ),
        pytest.param(
            result(bounding_box={"x": float("nan"), "y": 10, "w": 5, "h": 5}), "RectangleLabels", id="nan"
        ),
        pytest.param(
            result(bounding_box={"x": 1, "y": 1, "w": float("inf"), "h": 5}), "RectangleLabels", id="inf"
        ),
        pytest.param(result(bounding_box={"x": 1, "y": 1}), "RectangleLabels", id="missing-size"),
        pytest.param(
            result(polygon={"path": [{"x": 1, "y": 1}, {"x": 2, "y": 2}]}),
            "PolygonLabels",
            id="polygon-two-points",
        ),
        pytest.param(result(polygon={"path": "nope"}), "PolygonLabels", id="polygon-path-not-a-list"),
        pytest.param(
            result(ellipse={"center": {"x": 1, "y": 1}, "radius": {"x": 0, "y": 3}, "angle": 0}),
            "EllipseLabels",
            id="flat-ellipse",
        ),
        pytest.param(result(keypoint={"x": None, "y": 1}), "KeyPointLabels", id="keypoint-without-x"),
        pytest.param(result(line={"path": [{"x": 1, "y": 1}, {"x": 5, "y": 5}]}), "PolygonLabels", id="line"),
        pytest.param(result(cuboid={"front": {}, "back": {}}), "RectangleLabels", id="cuboid"),
        pytest.param(result(skeleton={"nodes": []}), "KeyPointLabels", id="skeleton"),
        pytest.param(
            result(directional_vector={"angle": 1, "length": 2}), "RectangleLabels", id="directional-vector"
        ),
        pytest.param(
            result(complex_polygon={"path": [[{"x": 1, "y": 1}]]}), "PolygonLabels", id="complex-polygon"
        ),
        pytest.param(
            result(polygon={"path": [{"x": 0, "y": 0}, {"x": 9, "y": 0}, {"x": 4, "y": 9}]}),
            "RectangleLabels",
            id="polygon-onto-rectangles",
        ),
        pytest.param(result(tag={}), "RectangleLabels", id="tag-onto-rectangles"),
        pytest.param(result(), "RectangleLabels", id="no-geometry"),
    ],
)
def test_what_cannot_be_drawn_is_none_never_an_error(v7: dict[str, Any], control_type: str) -> None:
    assert v7_result_to_regions(v7, target=target(control_type), image=IMAGE, region_id="r") is None


@pytest.mark.parametrize(
    ("v7", "key"),
    [
        ({"name": "car", "label": "Car"}, "Car"),
        ({"name": "car", "label": ""}, "car"),
        ({"name": "car", "label": 5}, "car"),
        ({"name": "  truck  "}, "truck"),
        ({"label": None, "name": None}, None),
        ({}, None),
    ],
)
def test_the_class_key_is_label_then_name(v7: dict[str, Any], key: str | None) -> None:
    assert v7_class_key(v7) == key


def test_geometry_kind_names_the_one_geometry() -> None:
    assert v7_geometry_kind(result(**BOX)) == "bounding_box"
    assert v7_geometry_kind(result(tag={})) == "tag"
    assert v7_geometry_kind(result()) is None


@pytest.mark.parametrize(
    "body",
    [
        {"status": "succeeded", "results": [result(**BOX)]},
        {"status": "succeeded"},
        {
            "status": "succeeded",
            "results": [
                {"name": "car", "confidence": 0, "tag": {}},
                {"label": "x", "confidence": 1, "tag": {}},
            ],
        },
    ],
)
def test_valid_responses_are_accepted(body: dict[str, Any]) -> None:
    assert parse_v7_response(body) == body.get("results", [])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "failed", "results": []}, "reported status 'failed'"),
        ({"results": []}, "must be 'succeeded' or 'failed'"),
        ({"status": "done", "results": []}, "must be 'succeeded' or 'failed'"),
        ({"status": "succeeded", "results": {"a": 1}}, "'results' must be a list"),
        ({"status": "succeeded", "results": [{"confidence": 0.5, "tag": {}}]}, "has no class name"),
        ({"status": "succeeded", "results": ["car"]}, "has no class name"),
        (
            {"status": "succeeded", "results": [{"name": "car", "confidence": 95, "tag": {}}]},
            "confidence between 0 and 1",
        ),
        ({"status": "succeeded", "results": [{"name": "car", "tag": {}}]}, "confidence between 0 and 1"),
        (
            {"status": "succeeded", "results": [{"name": "car", "confidence": float("nan"), "tag": {}}]},
            "confidence",
        ),
        ({"status": "succeeded", "results": [{"name": "car", "confidence": True, "tag": {}}]}, "confidence"),
        ([], "not a JSON object"),
    ],
)
def test_off_schema_responses_are_refused_with_a_reason(body: Any, message: str) -> None:
    with pytest.raises(V7ResponseError, match=message):
        parse_v7_response(body)


def test_converted_regions_are_valid_label_studio_predictions() -> None:
    from label_studio_sdk.label_interface.interface import LabelInterface

    config = (
        '<View><Image name="image" value="$image"/>'
        '<RectangleLabels name="ctl" toName="image"><Label value="Car"/></RectangleLabels></View>'
    )
    regions = v7_result_to_regions(
        result(**BOX), target=target("RectangleLabels"), image=IMAGE, region_id="r1"
    )
    assert regions is not None
    assert LabelInterface(config).validate_prediction(
        {"result": regions, "score": 0.8, "model_version": "x@1"}
    )
