"""V7 BYOM results (absolute pixels) into Label Studio regions (percent of the image).

Which control tag can show which V7 type is the registry's rule (``registry.mapping``); this module
only draws. Conversions follow section 6 of the V7 reference: percent of the image the Hub sent,
clamped into it, ellipse angles from radians to degrees, OCR text as a per-region TextArea sharing
the region's id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inference.predictions import finite_number
from registry.kinds import Region
from registry.mapping import class_type_fits_control

GEOMETRY_KEYS = (
    "bounding_box",
    "polygon",
    "keypoint",
    "ellipse",
    "line",
    "cuboid",
    "skeleton",
    "tag",
    "directional_vector",
    "complex_polygon",
)
# Label Studio draws a keypoint as a dot this wide, in percent of the image width.
KEYPOINT_WIDTH = 0.75


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int


@dataclass(frozen=True)
class RegionTarget:
    """Where one mapped model class lands in a Label Studio project."""

    from_name: str
    to_name: str
    control_type: str
    label: str
    textarea_from_name: str | None = None


class V7ResponseError(ValueError):
    """The model server's answer does not follow V7's inference-response schema."""


def v7_class_key(result: Mapping[str, Any]) -> str | None:
    """V7's own rule: ``label`` when it is a non-empty string, else ``name``."""
    for key in ("label", "name"):
        value = result.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def parse_v7_response(body: object) -> list[dict[str, Any]]:
    """The results of a V7 inference response; anything off-schema raises V7ResponseError."""
    if not isinstance(body, dict):
        raise V7ResponseError("the model server's answer is not a JSON object")
    status = body.get("status")
    if status == "failed":
        raise V7ResponseError("the model server reported status 'failed'")
    if status != "succeeded":
        raise V7ResponseError(f"the answer's status must be 'succeeded' or 'failed', not {status!r}")
    results = body.get("results", [])
    if not isinstance(results, list):
        raise V7ResponseError("'results' must be a list")
    for index, result in enumerate(results):
        if not isinstance(result, dict) or v7_class_key(result) is None:
            raise V7ResponseError(f"result {index} has no class name")
        confidence = finite_number(result.get("confidence"))
        if confidence is None or not 0.0 <= confidence <= 1.0:
            raise V7ResponseError(f"result {index} needs a confidence between 0 and 1")
    return results


def v7_geometry_kind(result: Mapping[str, Any]) -> str | None:
    return next((key for key in GEOMETRY_KEYS if isinstance(result.get(key), dict)), None)


def _clamp(value: float, high: float) -> float:
    return min(max(value, 0.0), high)


def _point(raw: Any, image: ImageSize) -> list[float] | None:
    if not isinstance(raw, Mapping):
        return None
    x, y = finite_number(raw.get("x")), finite_number(raw.get("y"))
    if x is None or y is None:
        return None
    return [_clamp(x, image.width) / image.width * 100, _clamp(y, image.height) / image.height * 100]


def _box(raw: Mapping[str, Any], image: ImageSize) -> tuple[float, float, float, float] | None:
    """(x, y, width, height) in percent, clipped to the image; None when nothing is left."""
    x, y, w, h = (finite_number(raw.get(k)) for k in ("x", "y", "w", "h"))
    if x is None or y is None or w is None or h is None:
        return None
    left, top = _clamp(x, image.width), _clamp(y, image.height)
    right, bottom = _clamp(x + w, image.width), _clamp(y + h, image.height)
    if right <= left or bottom <= top:
        return None
    return (
        left / image.width * 100,
        top / image.height * 100,
        (right - left) / image.width * 100,
        (bottom - top) / image.height * 100,
    )


def _value(result: Mapping[str, Any], image: ImageSize, control_type: str) -> dict[str, Any] | None:
    kind = v7_geometry_kind(result)
    geometry = result.get(kind) if kind else None
    if kind == "tag" or not isinstance(geometry, Mapping):
        return {} if kind == "tag" else None
    if kind == "bounding_box":
        box = _box(geometry, image)
        if box is None:
            return None
        x, y, w, h = box
        if control_type == "PolygonLabels":
            return {"points": [[x, y], [x + w, y], [x + w, y + h], [x, y + h]], "closed": True}
        return {"x": x, "y": y, "width": w, "height": h, "rotation": 0}
    if kind == "polygon":
        path = geometry.get("path")
        points = [_point(p, image) for p in path] if isinstance(path, list) else []
        if len(points) < 3 or any(p is None for p in points):
            return None
        return {"points": points, "closed": True}
    if kind == "keypoint":
        point = _point(geometry, image)
        return None if point is None else {"x": point[0], "y": point[1], "width": KEYPOINT_WIDTH}
    if kind == "ellipse":
        center, radius = _point(geometry.get("center"), image), geometry.get("radius")
        rx = finite_number(radius.get("x")) if isinstance(radius, Mapping) else None
        ry = finite_number(radius.get("y")) if isinstance(radius, Mapping) else None
        angle = finite_number(geometry.get("angle", 0.0))
        if center is None or rx is None or ry is None or angle is None or rx <= 0 or ry <= 0:
            return None
        return {
            "x": center[0],
            "y": center[1],
            "radiusX": rx / image.width * 100,
            "radiusY": ry / image.height * 100,
            "rotation": math.degrees(angle % math.tau),  # a huge angle would overflow degrees
        }
    return None


def v7_result_to_regions(
    result: Mapping[str, Any], *, target: RegionTarget, image: ImageSize, region_id: str
) -> list[Region] | None:
    """Label Studio result items for one V7 result, or None when ``target`` cannot show it."""
    kind = v7_geometry_kind(result)
    if kind is None or not class_type_fits_control(kind, target.control_type):
        return None
    value = _value(result, image, target.control_type)
    if value is None:
        return None
    region_type = target.control_type.lower()
    label_value: Any = [[target.label]] if region_type == "taxonomy" else [target.label]
    region: Region = {
        "id": region_id,
        "from_name": target.from_name,
        "to_name": target.to_name,
        "type": region_type,
        "value": {**value, region_type: label_value},
        "score": float(result["confidence"]),
    }
    if kind != "tag":
        region.update(original_width=image.width, original_height=image.height, image_rotation=0)
    regions = [region]
    text = result.get("text")
    if (
        kind != "tag"
        and target.textarea_from_name
        and isinstance(text, Mapping)
        and isinstance(text.get("text"), str)
    ):
        regions.append(
            {
                **{k: v for k, v in region.items() if k not in ("from_name", "type", "value")},
                "from_name": target.textarea_from_name,
                "type": "textarea",
                "value": {**value, "text": [text["text"]]},
            }
        )
    return regions
