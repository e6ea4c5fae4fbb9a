from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import TextField, Value
from django.db.models.functions import Cast

from core import crypto
from registry.fields import EncryptedTextField


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of HUB_ENCRYPTION_KEYS. Rotation: put a new key "
        "first, keep the old one after it, run this, then remove the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rewritten = 0
        failed: list[str] = []
        for model in apps.get_models():
            names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not names:
                continue
            # The stored tokens as text, not decrypted: Fernet's rotate re-encrypts them directly.
            stored = model._default_manager.values_list("pk", *(Cast(n, TextField()) for n in names))
            for pk, *tokens in stored.iterator():
                changes: dict[str, Value] = {}
                for name, token in zip(names, tokens, strict=True):
                    if not token:
                        continue
                    try:
                        changes[name] = Value(crypto.rotate(token))
                    except ValueError:
                        failed.append(f"{model._meta.label} {pk} {name}")
                if changes:
                    with transaction.atomic():
                        model._default_manager.filter(pk=pk).update(**changes)
                    rewritten += len(changes)
        self.stdout.write(f"Re-encrypted {rewritten} secrets with the first key.")
        if failed:
            raise CommandError(
                "No configured key decrypts these secrets (set them again in the admin): " + ", ".join(failed)
            )
