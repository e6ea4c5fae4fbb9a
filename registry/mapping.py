"""Class mappings: which project label each external model class becomes.

The rules are data about V7 types and Label Studio control tags, so they live here, beside the
mappings themselves; the adapters that draw regions use the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from registry.audit import audit_actor
from registry.label_config import ParsedConfig, predicted_values
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
    predicted = {value.lower() for value in predicted_values(attrs)}
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


@dataclass(frozen=True)
class MappingChange:
    """What to change of one class's mapping; ``threshold`` only when ``set_threshold``."""

    class_name: str
    from_name: str = ""
    label: str = ""
    threshold: float | None = None
    set_threshold: bool = False


def class_mappings_change(
    *, link: ModelProject, changes: list[MappingChange], actor: str
) -> list[ClassMapping]:
    """Map classes of the link's model onto labels of its project, all or none: each target is checked
    as the admin's mapping form checks it (``class_mapping_validate``) before anything is saved."""
    classes = {c.name: c for c in link.model.classes.all()}
    parsed = link.parsed_label_config
    errors: list[str] = []
    for change in changes:
        model_class = classes.get(change.class_name)
        if model_class is None:
            errors.append(f"{change.class_name}: the model has no such class.")
            continue
        try:
            class_mapping_validate(
                model_class=model_class, from_name=change.from_name, label=change.label, parsed=parsed
            )
        except ValidationError as exc:
            errors.extend(f"{change.class_name}: {message}" for message in exc.messages)
    if errors:
        raise ValidationError({"mappings": errors})
    saved = []
    with transaction.atomic(), audit_actor(actor):
        for change in changes:
            mapping = ClassMapping.objects.filter(
                model_project=link, model_class=classes[change.class_name]
            ).first() or ClassMapping(model_project=link, model_class=classes[change.class_name])
            if mapping.pk is None or (change.from_name, change.label) != (mapping.from_name, mapping.label):
                mapping.from_name, mapping.label, mapping.automatic = change.from_name, change.label, False
            if change.set_threshold:
                mapping.threshold = change.threshold
            mapping.save()
            saved.append(mapping)
    return saved
