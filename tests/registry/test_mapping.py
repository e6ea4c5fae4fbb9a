"""Class-mapping rules: which project label each model class gets automatically, and what the admin may pick."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from registry.label_config import label_config_parse
from registry.mapping import (
    Target,
    auto_target,
    class_mapping_validate,
    class_type_fits_control,
    mapping_targets,
)
from registry.models import ModelClass

CONFIG = label_config_parse(
    """<View>
  <Image name="image" value="$image"/>
  <Choices name="scene" toName="image"><Choice value="Dark"/><Choice value="Bright"/></Choices>
  <RectangleLabels name="boxes" toName="image">
    <Label value="Car" predicted_values="truck, van"/>
    <Label value="Person"/>
    <Label value="circle"/>
  </RectangleLabels>
  <PolygonLabels name="shapes" toName="image"><Label value="Triangle"/><Label value="Lake"/></PolygonLabels>
  <KeyPointLabels name="points" toName="image"><Label value="Nose"/></KeyPointLabels>
  <EllipseLabels name="blobs" toName="image"><Label value="Cell"/></EllipseLabels>
  <TextArea name="ocr" toName="image" perRegion="true"/>
</View>"""
)


@pytest.mark.parametrize(
    ("class_type", "control_type", "fits"),
    [
        ("bounding_box", "RectangleLabels", True),
        ("bounding_box", "PolygonLabels", True),
        ("bounding_box", "Choices", False),
        ("polygon", "PolygonLabels", True),
        ("polygon", "RectangleLabels", False),
        ("keypoint", "KeyPointLabels", True),
        ("ellipse", "EllipseLabels", True),
        ("ellipse", "RectangleLabels", False),
        ("tag", "Choices", True),
        ("tag", "Taxonomy", True),
        ("tag", "RectangleLabels", False),
        ("line", "PolygonLabels", False),
        ("skeleton", "KeyPointLabels", False),
        ("cuboid", "RectangleLabels", False),
        ("directional_vector", "RectangleLabels", False),
        ("unknown", "Choices", False),
    ],
)
def test_class_types_fit_control_tags(class_type: str, control_type: str, fits: bool) -> None:
    assert class_type_fits_control(class_type, control_type) is fits


@pytest.mark.parametrize(
    ("name", "class_type", "expected"),
    [
        ("Car", "bounding_box", Target("boxes", "Car")),
        ("car", "bounding_box", Target("boxes", "Car")),  # case-insensitive
        ("truck", "bounding_box", Target("boxes", "Car")),  # predicted_values
        (" VAN ", "bounding_box", Target("boxes", "Car")),
        ("Circle", "bounding_box", Target("boxes", "circle")),
        ("triangle", "bounding_box", Target("shapes", "Triangle")),  # a box can be drawn as a polygon
        ("triangle", "polygon", Target("shapes", "Triangle")),
        ("car", "polygon", None),  # no polygon label named car
        ("dark", "tag", Target("scene", "Dark")),
        ("dark", "bounding_box", None),  # a box cannot be a whole-image choice
        ("nose", "keypoint", Target("points", "Nose")),
        ("cell", "ellipse", Target("blobs", "Cell")),
        ("person", "skeleton", None),  # skeletons have no Label Studio control here
        ("boat", "bounding_box", None),
    ],
)
def test_auto_mapping_rules(name: str, class_type: str, expected: Target | None) -> None:
    assert auto_target(ModelClass(name=name, type=class_type), CONFIG) == expected


def test_admin_choices_are_the_fitting_labels_only() -> None:
    targets = mapping_targets(ModelClass(name="x", type="bounding_box"), CONFIG)
    assert [(t.from_name, t.label) for t in targets] == [
        ("boxes", "Car"),
        ("boxes", "Person"),
        ("boxes", "circle"),
        ("shapes", "Triangle"),
        ("shapes", "Lake"),
    ]


@pytest.mark.parametrize(
    ("from_name", "label", "valid"),
    [
        ("boxes", "Person", True),
        ("", "", True),
        ("scene", "Dark", False),
        ("boxes", "Nose", False),
        ("ghost", "Car", False),
    ],
)
def test_mappings_are_validated_against_the_config(from_name: str, label: str, valid: bool) -> None:
    model_class = ModelClass(name="x", type="bounding_box")
    if valid:
        class_mapping_validate(model_class=model_class, from_name=from_name, label=label, parsed=CONFIG)
    else:
        with pytest.raises(ValidationError, match="is not a label"):
            class_mapping_validate(model_class=model_class, from_name=from_name, label=label, parsed=CONFIG)
