"""What every protocol request reads, kept per worker: model records, projects, their links, mappings.

Entries stay valid while the database's ``HubStamp`` token is unchanged. Every save or delete of a
row of a cached kind, every queryset update of its non-traffic fields, and every change of a model's
state in a project (``state_stamp``), writes a new token, so the next request of every worker sees
the change. A timer would serve a stale mapping for its whole
period; one indexed read per request costs far less than the reads it saves.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save

from registry.models import (
    ClassMapping,
    HubStamp,
    LabelStudioInstance,
    ModelClass,
    ModelProject,
    ModelState,
    ModelVersion,
    Project,
    RegisteredModel,
    stamped_rows_updated,
)

STAMP_NAME = "hot-path"
# Per model in project, "state:<link pk>": the stamp of its state (``state_stamp``).
STATE_STAMP_PREFIX = "state:"
# The kinds of rows whose changes make a new stamp.
STAMPED_MODELS = (
    RegisteredModel,
    ModelClass,
    LabelStudioInstance,
    Project,
    ModelProject,
    ClassMapping,
    ModelVersion,
)

_MISSING = object()
T = TypeVar("T")


class HotPathCache:
    """Values cached under one stamp; a new stamp empties it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: str | None = None
        self._values: dict[tuple[Any, ...], Any] = {}

    def sync(self, stamp: str) -> None:
        with self._lock:
            if stamp != self._stamp:
                self._values.clear()
                self._stamp = stamp

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._stamp = None

    def get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._values.get(key, _MISSING)

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            # Not cached when no request synced the stamp: nothing could tell this value is stale.
            if self._stamp is not None:
                self._values[key] = value


hot_path = HotPathCache()


def hot_path_sync() -> None:
    """Called at the start of each protocol request: one read of the stamp."""
    with connection.cursor() as cursor:  # plain SQL: the ORM's query building costs more than the read
        cursor.execute(f"SELECT token FROM {HubStamp._meta.db_table} WHERE name = %s", [STAMP_NAME])  # noqa: S608
        row = cursor.fetchone()
    token = row[0] if row else None
    if token is None:
        token = hot_path_invalidate()
    hot_path.sync(token)


def hot_path_invalidate() -> str:
    """A new stamp for every worker; this worker's own entries go at once and again at commit."""
    token = uuid.uuid4().hex
    HubStamp.objects.update_or_create(name=STAMP_NAME, defaults={"token": token})
    hot_path.clear()
    transaction.on_commit(hot_path.clear)
    return token


def cached(key: tuple[Any, ...], load: Callable[[], T]) -> T:
    """The cached value for ``key``, loading (and caching) it on a miss; ``None`` is not cached."""
    value = hot_path.get(key)
    if value is _MISSING:
        value = load()
        if value is not None:
            hot_path.put(key, value)
    return cast(T, value)


def cached_model(slug: str) -> RegisteredModel | None:
    return cached(("model", slug), lambda: RegisteredModel.objects.filter(slug=slug).first())


def cached_mappings(link: ModelProject) -> list[ClassMapping]:
    return cached(
        ("mappings", link.pk),
        lambda: list(
            ClassMapping.objects.filter(model_project=link)
            .exclude(from_name="")
            .select_related("model_class")
        ),
    )


def state_stamp(link_id: int) -> str:
    """The token of one model-in-project's state (its ``get``/``set`` values): every change to it
    writes a new one, so what was computed from the old state is keyed apart. "" until the first.
    Cached like the rest: a new state token comes with a new hot-path stamp."""

    def load() -> str:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT token FROM {HubStamp._meta.db_table} WHERE name = %s",  # noqa: S608
                [f"{STATE_STAMP_PREFIX}{link_id}"],
            )
            row = cursor.fetchone()
        return str(row[0]) if row else ""

    return cached(("state", link_id), load)


def state_stamp_renew(link_id: int) -> None:
    """Mark the state of one model in one project as changed, for every worker."""
    HubStamp.objects.bulk_create(
        [HubStamp(name=f"{STATE_STAMP_PREFIX}{link_id}", token=uuid.uuid4().hex)],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["token"],
    )
    hot_path_invalidate()


def _invalidate_on_change(sender: type[Any], **kwargs: Any) -> None:
    hot_path_invalidate()


def _state_changed(sender: type[Any], instance: ModelState, **kwargs: Any) -> None:
    state_stamp_renew(instance.model_project_id)


def _link_deleted(sender: type[Any], instance: ModelProject, **kwargs: Any) -> None:
    HubStamp.objects.filter(name=f"{STATE_STAMP_PREFIX}{instance.pk}").delete()


def connect_invalidation() -> None:
    stamped_rows_updated.connect(_invalidate_on_change, dispatch_uid="hot-path-update")
    for model in STAMPED_MODELS:
        post_save.connect(_invalidate_on_change, sender=model, dispatch_uid=f"hot-path-save-{model.__name__}")
        post_delete.connect(
            _invalidate_on_change, sender=model, dispatch_uid=f"hot-path-delete-{model.__name__}"
        )
    post_save.connect(_state_changed, sender=ModelState, dispatch_uid="state-stamp-save")
    post_delete.connect(_state_changed, sender=ModelState, dispatch_uid="state-stamp-delete")
    post_delete.connect(_link_deleted, sender=ModelProject, dispatch_uid="state-stamp-link-delete")
