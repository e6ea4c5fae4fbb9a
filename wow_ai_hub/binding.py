"""How the Hub hands a model instance its context without changing the SDK constructor.

Model classes written for label-studio-ml-backend override ``__init__(self, project_id=None,
label_config=None, **kwargs)`` and call ``super().__init__``; the Hub therefore cannot add
constructor arguments. It binds the context for the duration of construction instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from wow_ai_hub.state import StateStore


@dataclass(frozen=True)
class HubBinding:
    state: StateStore
    model_version: str
    params: Mapping[str, Any] = field(default_factory=dict)
    parsed_label_config: Mapping[str, Any] | None = None
    # The project's Label Studio: address, token, and whether a private address is trusted.
    # A function, read when used: an admin may set the token after the model was built.
    label_studio: Callable[[], tuple[str, str, bool] | None] | None = None
    # Set while a training job runs: fit reports progress (fraction, message) through it.
    progress: Callable[[float, str], None] | None = None
    # What the last ``fit`` of this project returned, for the version in use ({} before any).
    train_output: Mapping[str, Any] = field(default_factory=dict)


_current: ContextVar[HubBinding | None] = ContextVar("wow_ai_hub_binding", default=None)


@contextmanager
def bound(binding: HubBinding) -> Iterator[None]:
    token = _current.set(binding)
    try:
        yield
    finally:
        _current.reset(token)


def current_binding() -> HubBinding | None:
    return _current.get()
