"""Helpers for model code, under the names ``label_studio_ml.utils`` gives them.

Where the original validated a label config with ``assert``, these raise ``ValueError`` with a message
that names what is missing, so the check survives ``python -O`` and reaches the caller as a 4xx.
"""

from __future__ import annotations

import difflib
import os
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any
from urllib.parse import urlsplit

# The key Label Studio gives task data imported without a name (a plain list of texts or URLs).
DATA_UNDEFINED_NAME = "$undefined$"

__all__ = [
    "DATA_UNDEFINED_NAME",
    "InMemoryLRUDictCache",
    "compare_nested_structures",
    "get_choice",
    "get_first_tag_keys",
    "get_image_size",
    "get_single_tag_keys",
    "is_preload_needed",
    "is_skipped",
    "is_valid_url",
    "match_labels",
]


def get_single_tag_keys(
    parsed_label_config: dict[str, Any], control_type: str, object_type: str
) -> tuple[str, str, str, list[str]]:
    """``(from_name, to_name, data key, labels)`` of a config with exactly one control tag, of
    ``control_type``, on exactly one object tag of ``object_type``; ValueError otherwise."""
    if len(parsed_label_config) != 1:
        raise ValueError(
            f"The label config must have exactly one control tag; it has {len(parsed_label_config)}."
        )
    from_name, info = next(iter(parsed_label_config.items()))
    if info["type"] != control_type:
        raise ValueError(f"The label config has <{info['type']}> but <{control_type}> is expected.")
    if len(info["to_name"]) != 1 or len(info["inputs"]) != 1:
        raise ValueError(f"<{control_type} name={from_name!r}> must point at exactly one object tag.")
    if info["inputs"][0]["type"] != object_type:
        raise ValueError(
            f"<{control_type}> must point at <{object_type}>, not <{info['inputs'][0]['type']}>."
        )
    return from_name, info["to_name"][0], info["inputs"][0]["value"], list(info["labels"])


def get_first_tag_keys(
    parsed_label_config: dict[str, Any], control_type: str, object_type: str
) -> tuple[str | None, dict[str, Any] | None]:
    """The first ``control_type`` control reading an ``object_type`` object: ``(from_name, its info)``,
    or ``(None, None)``."""
    for from_name, info in parsed_label_config.items():
        if info["type"] == control_type and any(i["type"] == object_type for i in info["inputs"]):
            return from_name, info
    return None, None


def is_skipped(task: dict[str, Any]) -> bool:
    """Whether a task's single annotation was skipped (cancelled); False unless it has exactly one."""
    annotations = task.get("annotations") or []
    if len(annotations) != 1:
        return False
    return bool(annotations[0].get("skipped") or annotations[0].get("was_cancelled"))


def get_choice(task: dict[str, Any]) -> str:
    """The first choice of the first region of a task's first annotation."""
    choice: str = task["annotations"][0]["result"][0]["value"]["choices"][0]
    return choice


def get_image_size(filepath: str) -> tuple[int, int]:
    """``(width, height)`` of an image as it is displayed, that is after its EXIF orientation."""
    from PIL import Image, ImageOps

    with Image.open(filepath) as image:
        width, height = ImageOps.exif_transpose(image).size
    return width, height


class InMemoryLRUDictCache:
    """A dict of at most ``capacity`` entries that forgets the least recently used one first."""

    def __init__(self, capacity: int = 1) -> None:
        self.cache: OrderedDict[Hashable, Any] = OrderedDict()
        self.capacity = capacity

    def __contains__(self, key: Hashable) -> bool:
        return key in self.cache

    def get(self, key: Hashable) -> Any:
        if key not in self.cache:
            return None
        self.cache.move_to_end(key)
        return self.cache[key]

    def put(self, key: Hashable, value: Any) -> None:
        if key in self.cache:
            self.cache.move_to_end(key)
        elif len(self.cache) >= self.capacity:
            self.cache.popitem(last=False)
        self.cache[key] = value

    def __str__(self) -> str:
        return str(self.cache)


def match_labels(text: str, labels: Sequence[str]) -> list[str]:
    """For each line of ``text`` (an LLM's answer, say), the label it is most similar to."""
    matched = []
    for line in text.splitlines():
        ratios = [difflib.SequenceMatcher(None, line, label).ratio() for label in labels]
        matched.append(labels[ratios.index(max(ratios))])
    return matched


def is_valid_url(path: str) -> bool:
    """Whether ``path`` has a scheme and a host."""
    try:
        parts = urlsplit(path)
    except ValueError:
        return False
    return bool(parts.scheme and parts.netloc)


def is_preload_needed(url: str) -> bool:
    """Whether a task data value names a file to read rather than being the data itself: an upload,
    a local-storage or cloud-storage file, a URL, or a path that exists."""
    path = url if not url.startswith(("upload", "/upload")) else "/data/" + url.lstrip("/")
    return (
        path.startswith("/data/upload")
        or (path.startswith("/data/") and "?d=" in path)
        or path.startswith(("s3:", "gs:", "azure-blob:"))
        or is_valid_url(path)
        or os.path.exists(path)
    )


def compare_nested_structures(
    a: Any, b: Any, path: str = "", rel: float = 1e-4, abs: float | None = None
) -> None:
    """Assert that two JSON-like structures are equal, floats within ``rel``/``abs`` (for tests)."""
    import math

    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            raise AssertionError(f"Keys mismatch at {path}: {sorted(a)} != {sorted(b)}")
        for key in a:
            compare_nested_structures(a[key], b[key], f"{path}.{key}", rel, abs)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            raise AssertionError(f"List size mismatch at {path}: {len(a)} != {len(b)}")
        for index, (left, right) in enumerate(zip(a, b, strict=True)):
            compare_nested_structures(left, right, f"{path}[{index}]", rel, abs)
    elif isinstance(a, float) and isinstance(b, float):
        if not math.isclose(a, b, rel_tol=rel, abs_tol=1e-12 if abs is None else abs):
            raise AssertionError(f"Mismatch at {path}: {a} != {b}")
    elif a != b:
        raise AssertionError(f"Mismatch at {path}: {a!r} != {b!r}")
