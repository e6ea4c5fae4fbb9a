from __future__ import annotations

from typing import Protocol


class StateStore(Protocol):
    """Where a model's ``get``/``set`` values live (the database when served by the Hub)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class MemoryStateStore:
    """State for a model used outside the Hub (a notebook, a unit test) or without a project."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self._values.get(key)

    def set(self, key: str, value: str) -> None:
        self._values[key] = value
