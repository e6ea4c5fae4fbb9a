"""The checks a region must pass against the project's parsed label config (inference/validation.py)."""

from __future__ import annotations

from typing import Any

from inference.validation import RegionCheck

PARSED: dict[str, Any] = {
    "box": {"type": "RectangleLabels", "to_name": ["image_{{idx}}"], "labels": ["Car", "Truck"]},
    "tag": {"type": "Labels", "to_name": ["text"], "labels": ["PER"], "dynamic_labels": True},
    "kind": {"type": "Taxonomy", "to_name": ["text"], "labels": ["Animal", "Cat"]},
}


def region(from_name: str, to_name: str, region_type: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"from_name": from_name, "to_name": to_name, "type": region_type, "value": value}


def test_repeater_objects_match_their_index_pattern_only() -> None:
    check = RegionCheck(PARSED)
    car = {"rectanglelabels": ["Car"]}
    assert check.region_fits(region("box", "image_0", "rectanglelabels", car))
    assert check.region_fits(region("box", "image_12", "rectanglelabels", car))
    assert not check.region_fits(region("box", "image_x", "rectanglelabels", car))
    assert not check.region_fits(region("box", "imageX0", "rectanglelabels", car))
    assert not check.region_fits(region("box", "image_0", "rectanglelabels", {"rectanglelabels": ["Bus"]}))


def test_dynamic_labels_take_any_label_and_taxonomy_paths_need_known_nodes() -> None:
    check = RegionCheck(PARSED)
    assert check.region_fits(region("tag", "text", "labels", {"labels": ["ORG"]}))
    assert check.region_fits(region("kind", "text", "taxonomy", {"taxonomy": [["Animal", "Cat"]]}))
    assert not check.region_fits(region("kind", "text", "taxonomy", {"taxonomy": [["Animal", "Dog"]]}))
    assert not check.region_fits(region("kind", "text", "taxonomy", {"taxonomy": ["Animal"]}))


def test_relations_stay_only_between_kept_regions() -> None:
    check = RegionCheck(PARSED)
    kept = {**region("box", "image_1", "rectanglelabels", {"rectanglelabels": ["Truck"]}), "id": "a"}
    dropped = {**region("box", "image_1", "rectanglelabels", {"rectanglelabels": ["Bus"]}), "id": "b"}
    other = {**region("box", "image_2", "rectanglelabels", {"rectanglelabels": ["Car"]}), "id": "c"}
    relations = [
        {"type": "relation", "from_id": "a", "to_id": "c"},
        {"type": "relation", "from_id": "a", "to_id": "b"},
    ]
    checked = check([kept, dropped, other, *relations])
    assert checked.kept == [kept, other, relations[0]]
    assert checked.dropped == 2
    assert check("not a list").dropped == 1 and check([]).dropped == 0
