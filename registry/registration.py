"""Registering and changing models: the one place for the rules every path (admin, ``wow-ai-ml``, REST
API) follows. A change of what runs (``VERSIONED_FIELDS``) makes a new version, so Label Studio
predicts again with it; every change is validated as a whole and audited under its actor."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from registry.audit import audit_actor
from registry.kinds import kind_validate
from registry.models import RegisteredModel

# Changing what runs makes a new model version, so Label Studio re-predicts with it.
VERSIONED_FIELDS = ("kind", "import_path", "params", "url", "request_extra")


def _acting(actor: str | None) -> AbstractContextManager[None]:
    # None: the audit log names the running program or job itself (registry.audit).
    return audit_actor(actor) if actor else nullcontext()


def registered_model_clean(model: RegisteredModel) -> None:
    """Validate the whole row: its fields and ``RegisteredModel.clean``, then what its kind needs; every
    error found is raised at once."""
    errors: dict[str, list[ValidationError]] = {}
    try:
        model.full_clean()
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    try:
        kind_validate(model)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def registered_model_create(
    *, actor: str | None, protocol_password: str = "", **fields: Any
) -> RegisteredModel:
    """A new model from its fields (those of ``RegisteredModel``), validated whole before it is saved."""
    model = RegisteredModel(**fields)
    if protocol_password:
        model.set_protocol_password(protocol_password)
    registered_model_clean(model)
    with _acting(actor):
        model.save()
    return model


def registered_model_save(*, model: RegisteredModel, actor: str | None, version_given: bool = False) -> bool:
    """Save an edited model, one version on from the stored one when what runs changed (unless the caller
    set ``version`` itself, as an admin may). Returns whether the version moved.

    The stored row is read under a row lock: two edits at once each see the other's version."""
    with transaction.atomic(), _acting(actor):
        stored = (
            RegisteredModel.objects.select_for_update()
            .filter(pk=model.pk)
            .values("version", *VERSIONED_FIELDS)
            .first()
        )
        bumped = (
            stored is not None
            and not version_given
            and any(stored[name] != getattr(model, name) for name in VERSIONED_FIELDS)
        )
        if bumped:
            assert stored is not None  # noqa: S101 - for the type checker: bumped implies it
            model.version = stored["version"] + 1
        model.save()
    return bumped


def registered_model_update(
    *, model: RegisteredModel, changes: dict[str, Any], actor: str | None, protocol_password: str = ""
) -> bool:
    """Apply ``changes`` (field name to value; never the slug, which is the model's URL in Label Studio),
    validate the whole row, and save it with the version rule. Returns whether the version moved."""
    if "slug" in changes and changes["slug"] != model.slug:
        raise ValueError("A model's slug cannot change: it is its URL in Label Studio.")
    for name, value in changes.items():
        setattr(model, name, value)
    if protocol_password:
        model.set_protocol_password(protocol_password)
    registered_model_clean(model)
    return registered_model_save(model=model, actor=actor, version_given="version" in changes)


def registered_model_put(
    *, slug: str, actor: str | None, **fields: Any
) -> tuple[RegisteredModel, bool, bool]:
    """Register the model as given (named after its slug unless ``fields`` name it), or bring the registered
    one in line with ``fields``, as the command line's ``register`` does. Returns the model, whether it was
    created, and whether its version moved."""
    existing = RegisteredModel.objects.filter(slug=slug).first()
    if existing is None:
        return registered_model_create(actor=actor, slug=slug, **{"name": slug, **fields}), True, False
    changes = {name: value for name, value in fields.items() if getattr(existing, name) != value}
    if not changes:
        return existing, False, False
    return existing, False, registered_model_update(model=existing, changes=changes, actor=actor)
