"""The pluggable kinds of registered model.

``registry`` only knows the small protocol below; each kind's implementation registers itself with
:func:`register_backend` (the ``python`` kind lives in ``inference.runners``), so a new kind is a
new class, not a change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from registry.models import RegisteredModel


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    latency_ms: float
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ModelBackend(Protocol):
    kind: str
    label: str

    def validate(self, model: RegisteredModel) -> None:
        """Raise django.core.exceptions.ValidationError if the row cannot work with this kind."""

    def describe(self, model: RegisteredModel) -> str:
        """A short name for the model (e.g. its class), computed without loading anything."""

    def check(self, model: RegisteredModel) -> CheckResult:
        """Load or call the model once and report; used by the admin's "Test connection"."""


_BACKENDS: dict[str, ModelBackend] = {}

BackendT = TypeVar("BackendT", bound=ModelBackend)


def register_backend(cls: type[BackendT]) -> type[BackendT]:
    instance = cls()
    _BACKENDS[instance.kind] = instance
    return cls


def get_backend(kind: str) -> ModelBackend:
    try:
        return _BACKENDS[kind]
    except KeyError:
        raise LookupError(
            f"Unknown model kind {kind!r}; known kinds: {', '.join(sorted(_BACKENDS))}"
        ) from None


def backend_choices() -> list[tuple[str, str]]:
    return [(kind, backend.label) for kind, backend in sorted(_BACKENDS.items())]
