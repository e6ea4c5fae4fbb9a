"""Who changed what, and when: registered models, classes, mappings, credentials and trained versions.

Django's admin log sees only admin forms, but these rows also change through Label Studio's ``/setup``,
training jobs and the command line. So every save and delete of an audited model records an
:class:`~registry.models.AuditEvent` through model signals. The actor comes from a context variable: the
admin sets the signed-in user, protocol requests their endpoint (``request_started``), and anything else
is named after its training job or its program (``system:wow-ai-ml register``). Changes made with
``QuerySet.update`` send no signal; their callers record them with :func:`audit_record`.
Secret fields are recorded as "changed", never with their values.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.signals import request_finished, request_started
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

from registry.models import (
    AuditEvent,
    ClassMapping,
    LabelStudioInstance,
    ModelClass,
    ModelProject,
    ModelVersion,
    RegisteredModel,
)

AUDITED_MODELS: tuple[type[models.Model], ...] = (
    RegisteredModel,
    ModelClass,
    ModelProject,
    ClassMapping,
    LabelStudioInstance,
    ModelVersion,
)
SECRET_FIELDS = frozenset(
    {"auth_secret", "access_token", "api_key", "protocol_password_hash", "connection_key_hash"}
)
MAX_VALUE_CHARS = 200
# /ml/<slug>[/k/<key>][/<endpoint>]: the key never goes into an actor.
_PROTOCOL_PATH = re.compile(r"^/ml/[^/]+(?:/k/[^/]+)?(?P<endpoint>/[a-z_]*)?$")

_actor: ContextVar[str | None] = ContextVar("audit_actor", default=None)


@contextmanager
def audit_actor(actor: str) -> Iterator[None]:
    """Attribute the changes made inside the block to ``actor``."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def _actor_of(instance: models.Model) -> str:
    actor = _actor.get()
    if actor:
        return actor
    if isinstance(instance, ModelVersion) and instance.job_id:
        return f"system:training-job:{instance.job_id}"
    program = [Path(sys.argv[0]).name, *sys.argv[1:2]] if sys.argv and sys.argv[0] else ["python"]
    return "system:" + " ".join(program)


def _short(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"


def _repr(instance: models.Model) -> str:
    try:
        return str(instance)[:300]
    except ObjectDoesNotExist:  # a related row already gone in a cascade
        return f"{instance._meta.label} {instance.pk}"


def audit_record(*, actor: str, action: str, obj: models.Model, changes: dict[str, Any]) -> AuditEvent:
    """Record one change; ``changes`` maps field names to what to keep of them (a secret: "changed")."""
    return AuditEvent.objects.create(
        actor=actor[:200],
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=_repr(obj),
        changes={name: "changed" if name in SECRET_FIELDS else value for name, value in changes.items()},
    )


def _tracked_fields(model: type[models.Model]) -> list[str]:
    return [
        field.attname
        for field in model._meta.concrete_fields
        if not field.primary_key
        and not getattr(field, "auto_now", False)
        and not getattr(field, "auto_now_add", False)
    ]


def _remember_stored(sender: type[models.Model], instance: models.Model, raw: bool, **_: Any) -> None:
    if raw or instance.pk is None:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values(*_tracked_fields(sender)).first()
    instance._audit_stored = stored  # type: ignore[attr-defined]


def _record_save(
    sender: type[models.Model], instance: models.Model, created: bool, raw: bool, **_: Any
) -> None:
    if raw:
        return
    stored: dict[str, Any] | None = instance.__dict__.pop("_audit_stored", None)
    current = {name: getattr(instance, name) for name in _tracked_fields(sender)}
    if created or stored is None:
        changes = {name: _short(value) for name, value in current.items() if value not in (None, "", {}, [])}
        audit_record(actor=_actor_of(instance), action="create", obj=instance, changes=changes)
        return
    changed = {name: value for name, value in current.items() if stored.get(name) != value}
    if changed:
        shown = {
            name: {"from": _short(stored.get(name)), "to": _short(value)} for name, value in changed.items()
        }
        audit_record(actor=_actor_of(instance), action="update", obj=instance, changes=shown)


def _record_delete(sender: type[models.Model], instance: models.Model, **_: Any) -> None:
    audit_record(actor=_actor_of(instance), action="delete", obj=instance, changes={})


def _actor_from_request(environ: dict[str, Any] | None = None, **_: Any) -> None:
    match = _PROTOCOL_PATH.match((environ or {}).get("PATH_INFO", ""))
    _actor.set(f"system:label-studio:{match['endpoint'] or '/'}" if match else None)


def _forget_request_actor(**_: Any) -> None:
    _actor.set(None)


def connect() -> None:
    """Called once from the app's ready()."""
    for model in AUDITED_MODELS:
        pre_save.connect(_remember_stored, sender=model, dispatch_uid=f"audit-pre-{model._meta.label}")
        post_save.connect(_record_save, sender=model, dispatch_uid=f"audit-save-{model._meta.label}")
        post_delete.connect(_record_delete, sender=model, dispatch_uid=f"audit-del-{model._meta.label}")
    request_started.connect(_actor_from_request, dispatch_uid="audit-request-started")
    request_finished.connect(_forget_request_actor, dispatch_uid="audit-request-finished")
