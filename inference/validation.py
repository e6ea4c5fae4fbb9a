"""Checking predicted regions against the project's label config before they leave the Hub.

Label Studio stores a region whose ``from_name``, ``to_name``, ``type`` or label does not match the
config and then silently shows nothing: the Hub drops such regions and counts them instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from registry.kinds import Region
from registry.label_config import ParsedConfig, label_config_parse_unbounded


@dataclass(frozen=True)
class CheckedRegions:
    kept: list[Region]
    dropped: int


@dataclass(frozen=True)
class _Control:
    """What a region of one control tag must match."""

    region_type: str
    to_names: frozenset[str]
    # Repeater configs name objects with an index variable, e.g. toName="image_{{idx}}".
    to_name_patterns: tuple[re.Pattern[str], ...]
    labels: frozenset[str] | None  # None: any label (no fixed labels, or dynamic ones)

    @classmethod
    def of(cls, control: dict[str, Any]) -> _Control:
        targets = [t for t in control.get("to_name", []) if isinstance(t, str)]
        labels = [label for label in control.get("labels", []) if isinstance(label, str)]
        return cls(
            region_type=str(control.get("type", "")).lower(),
            to_names=frozenset(targets),
            to_name_patterns=tuple(
                re.compile(re.escape(t).replace(re.escape("{{idx}}"), r"\d+")) for t in targets if "{{" in t
            ),
            labels=frozenset(labels) if labels and not control.get("dynamic_labels") else None,
        )

    def to_name_fits(self, to_name: Any) -> bool:
        if to_name in self.to_names:
            return True
        return isinstance(to_name, str) and any(p.fullmatch(to_name) for p in self.to_name_patterns)

    def labels_fit(self, value: dict[str, Any]) -> bool:
        if self.labels is None:
            return True
        chosen = value.get(self.region_type)
        if chosen is None:
            return True
        if not isinstance(chosen, list):
            return False
        if self.region_type == "taxonomy":
            return all(
                isinstance(path, list) and all(node in self.labels for node in path) for path in chosen
            )
        return all(isinstance(label, str) and label in self.labels for label in chosen)


class RegionCheck:
    """The checks of one parsed label config, prepared once and applied to every task's regions:
    preparing a control's label set per region made a batch's checks grow with the size of its
    config."""

    def __init__(self, parsed: ParsedConfig) -> None:
        self._controls = {
            name: _Control.of(control) for name, control in parsed.items() if isinstance(control, dict)
        }

    def region_fits(self, region: Any) -> bool:
        if not isinstance(region, dict):
            return False
        control = self._controls.get(region.get("from_name"))  # type: ignore[arg-type]
        value = region.get("value")
        if control is None or not isinstance(value, dict):
            return False
        return (
            region.get("type") == control.region_type
            and control.to_name_fits(region.get("to_name"))
            and control.labels_fit(value)
        )

    def __call__(self, result: Any) -> CheckedRegions:
        if not isinstance(result, list):
            return CheckedRegions(kept=[], dropped=1 if result else 0)
        relations: list[Region] = []
        kept: list[Region] = []
        for region in result:
            if isinstance(region, dict) and region.get("type") == "relation":
                relations.append(region)
            elif self.region_fits(region):
                kept.append(region)
        kept_ids = {r.get("id") for r in kept if r.get("id") is not None}
        kept_relations = [r for r in relations if r.get("from_id") in kept_ids and r.get("to_id") in kept_ids]
        return CheckedRegions(
            kept=kept + kept_relations, dropped=len(result) - len(kept) - len(kept_relations)
        )


@lru_cache(maxsize=256)
def region_check(label_config: str) -> RegionCheck:
    """The checks of a label config, prepared once per config in each worker, as its parse is."""
    return RegionCheck(label_config_parse_unbounded(label_config))
