from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class InstanceCache:
    """A per-worker LRU of built model instances.

    Building is serialised per key, so concurrent first requests for a slow model build it once;
    other keys are not blocked meanwhile.
    """

    def __init__(self, size: Callable[[], int]) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._build_locks: dict[Hashable, threading.Lock] = {}

    def get_or_build(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            build_lock = self._build_locks.setdefault(key, threading.Lock())
        with build_lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            instance = build()
            with self._lock:
                self._items[key] = instance
                self._build_locks.pop(key, None)
                while len(self._items) > max(self._size(), 1):
                    self._items.popitem(last=False)
            return instance

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
