"""V7's inference-response schema, written from the rules in the protocol reference §2.1, and the
checks of results against it and against the detector's classes."""

from __future__ import annotations

from typing import Any

import jsonschema
import requests

from examples.byom_detector import detector

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
VALIDATOR = jsonschema.Draft202012Validator(V7_RESPONSE_SCHEMA)


def assert_v7_valid(body: Any) -> None:
    errors = [e.message for e in VALIDATOR.iter_errors(body)]
    assert not errors, errors


def assert_matches_classes(results: list[dict[str, Any]]) -> None:
    """V7 drops results whose class is unknown or whose geometry does not match the class type."""
    types = {c["name"]: c["type"] for c in detector.CLASSES}
    for r in results:
        assert r["label"] == r["name"]
        assert types[r["name"]] in r, r


def assert_failed(response: requests.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert_v7_valid(body)
    assert body["status"] == "failed"
    assert words in body["error"], body["error"]
    assert "Traceback" not in response.text
