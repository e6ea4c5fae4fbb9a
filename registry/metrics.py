"""The registry's part of the gateway's ``/metrics``: protocol requests are labelled by slug only for
registered models."""

from __future__ import annotations

from core.metrics import label_models_by
from registry.hot_path import cached_model


def is_registered(slug: str) -> bool:
    return cached_model(slug) is not None


def connect() -> None:
    label_models_by(is_registered)
