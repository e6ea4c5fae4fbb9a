"""Class mappings: which project label each external model class becomes.

The rules are data about V7 types and Label Studio control tags, so they live here, beside the
mappings themselves; the adapters that draw regions use the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError

from registry.label_config import ParsedConfig
from registry.models import ClassMapping, ModelClass, ModelProject

# Which Label Studio control tags can show a class of each V7 type. A bounding box can also be
# drawn as a four-point polygon; a tag is a whole-image choice.
CONTROLS_FOR_CLASS_TYPE: dict[str, frozenset[str]] = {
    "bounding_box": frozenset({"RectangleLabels", "PolygonLabels"}),
    "polygon": frozenset({"PolygonLabels"}),
    "keypoint": frozenset({"KeyPointLabels"}),
    "ellipse": frozenset({"EllipseLabels"}),
    "tag": frozenset({"Choices", "Taxonomy"}),
}


def class_type_fits_control(class_type: str, control_type: str) -> bool:
    return control_type in CONTROLS_FOR_CLASS_TYPE.get(class_type, frozenset())


@dataclass(frozen=True)
class Target:
    from_name: str
    label: str


def _label_matches(class_name: str, label: str, attrs: dict[str, Any]) -> bool:
    wanted = class_name.strip().lower()
    predicted = {v.strip().lower() for v in str(attrs.get("predicted_values", "")).split(",") if v.strip()}
    return label.lower() == wanted or str(attrs.get("value", "")).lower() == wanted or wanted in predicted


def auto_target(model_class: ModelClass, parsed: ParsedConfig) -> Target | None:
    """The first fitting control, in config order, with a label named like the class (case-insensitive)
    or listing it in ``predicted_values``; None leaves the class unmapped."""
    for from_name, control in parsed.items():
        if not class_type_fits_control(model_class.type, str(control.get("type"))):
            continue
        for label in control.get("labels", []):
            if _label_matches(model_class.name, label, control.get("labels_attrs", {}).get(label, {})):
                return Target(from_name=from_name, label=label)
    return None


def class_mappings_ensure(*, link: ModelProject, parsed: ParsedConfig) -> int:
    """Give every class of the link's model a mapping in its project (auto-mapped or unmapped);
    existing mappings, maybe edited by an admin, are kept. Returns how many were created."""
    mapped_ids = set(link.mappings.values_list("model_class_id", flat=True))
    created = 0
    for model_class in link.model.classes.exclude(id__in=mapped_ids):
        target = auto_target(model_class, parsed)
        try:
            ClassMapping.objects.create(
                model_project=link,
                model_class=model_class,
                from_name=target.from_name if target else "",
                label=target.label if target else "",
                automatic=True,
            )
            created += 1
        except IntegrityError:  # a concurrent /setup created it first
            continue
    return created


def mapping_targets(model_class: ModelClass, parsed: ParsedConfig) -> list[Target]:
    """Every control tag and label of the project that can show this class."""
    return [
        Target(from_name=from_name, label=label)
        for from_name, control in parsed.items()
        if class_type_fits_control(model_class.type, str(control.get("type")))
        for label in control.get("labels", [])
    ]


def class_mapping_validate(
    *, model_class: ModelClass, from_name: str, label: str, parsed: ParsedConfig
) -> None:
    if not from_name and not label:
        return
    if Target(from_name=from_name, label=label) not in mapping_targets(model_class, parsed):
        raise ValidationError(
            f"{from_name}:{label} is not a label of a control tag that can show a {model_class.type} class "
            "in this project's config."
        )
