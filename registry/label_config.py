"""Label configs: checked with defusedxml, then understood through label-studio-sdk."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.conf import settings

ParsedConfig = dict[str, dict[str, Any]]


class LabelConfigError(ValueError):
    """The label config is not a safe, well-formed Label Studio ``<View>``."""


def config_hash(label_config: str) -> str:
    return hashlib.sha256(label_config.encode()).hexdigest()


def label_config_parse(label_config: str) -> ParsedConfig:
    """Return Label Studio's ``parsed_label_config`` structure for a config, or raise LabelConfigError."""
    if len(label_config.encode()) > settings.HUB_MAX_LABEL_CONFIG_BYTES:
        raise LabelConfigError(f"label config is larger than {settings.HUB_MAX_LABEL_CONFIG_BYTES} bytes")
    return label_config_parse_unbounded(label_config)


@lru_cache(maxsize=256)
def label_config_parse_unbounded(label_config: str) -> ParsedConfig:
    """The parse without the size limit, which needs no Django settings (the SDK uses it standalone)."""
    from label_studio_sdk._extensions.label_studio_tools.core.label_config import parse_config

    try:
        # forbid_dtd: a label config has no business declaring a DTD, and refusing it outright
        # shuts out entity expansion and external entities before any other parser sees the text.
        root = fromstring(label_config, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise LabelConfigError(f"label config contains forbidden XML ({type(exc).__name__})") from exc
    except Exception as exc:  # ParseError and friends: say where the XML breaks
        raise LabelConfigError(f"label config is not well-formed XML: {exc}") from exc
    if root.tag != "View":
        raise LabelConfigError(f"label config must have <View> as its root element, not <{root.tag}>")
    try:
        parsed: ParsedConfig = parse_config(label_config)  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise LabelConfigError(f"label config cannot be understood: {exc}") from exc
    return parsed


def predicted_values(label_attrs: dict[str, Any]) -> list[str]:
    """The model classes a label takes by its ``predicted_values="car, truck"`` attribute, in order."""
    return [v.strip() for v in str(label_attrs.get("predicted_values", "")).split(",") if v.strip()]
