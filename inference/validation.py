"""Checking predicted regions against the project's label config before they leave the Hub.

Label Studio stores a region whose ``from_name``, ``to_name``, ``type`` or label does not match the
config and then silently shows nothing: the Hub drops such regions and counts them instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from registry.label_config import ParsedConfig

Region = dict[str, Any]


@dataclass(frozen=True)
class CheckedRegions:
    kept: list[Region]
    dropped: int


def _to_name_fits(to_name: Any, control: dict[str, Any]) -> bool:
    targets: list[str] = control.get("to_name", [])
    if to_name in targets:
        return True
    # Repeater configs name objects with an index variable, e.g. toName="image_{{idx}}".
    return isinstance(to_name, str) and any(
        re.fullmatch(re.escape(t).replace(re.escape("{{idx}}"), r"\d+"), to_name)
        for t in targets
        if "{{" in t
    )


def _labels_fit(value: dict[str, Any], region_type: str, control: dict[str, Any]) -> bool:
    known = set(control.get("labels", []))
    if not known or control.get("dynamic_labels"):
        return True
    chosen = value.get(region_type)
    if chosen is None:
        return True
    if not isinstance(chosen, list):
        return False
    if region_type == "taxonomy":
        return all(isinstance(path, list) and all(node in known for node in path) for path in chosen)
    return all(isinstance(label, str) and label in known for label in chosen)


def region_fits_config(region: Any, parsed: ParsedConfig) -> bool:
    if not isinstance(region, dict):
        return False
    control = parsed.get(region.get("from_name"))  # type: ignore[arg-type]
    value = region.get("value")
    if control is None or not isinstance(value, dict):
        return False
    region_type = region.get("type")
    if region_type != str(control.get("type", "")).lower():
        return False
    return _to_name_fits(region.get("to_name"), control) and _labels_fit(value, region_type, control)


def check_regions(result: Any, parsed: ParsedConfig) -> CheckedRegions:
    if not isinstance(result, list):
        return CheckedRegions(kept=[], dropped=1 if result else 0)
    relations: list[Region] = []
    kept: list[Region] = []
    for region in result:
        if isinstance(region, dict) and region.get("type") == "relation":
            relations.append(region)
        elif region_fits_config(region, parsed):
            kept.append(region)
    kept_ids = {r.get("id") for r in kept if r.get("id") is not None}
    kept_relations = [r for r in relations if r.get("from_id") in kept_ids and r.get("to_id") in kept_ids]
    return CheckedRegions(kept=kept + kept_relations, dropped=len(result) - len(kept) - len(kept_relations))
