from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from examples.catalog import EXAMPLE_MODELS
from registry.services import registered_model_register


class Command(BaseCommand):
    help = "Create an admin user if there is none, register the example models, and print how to connect."

    def handle(self, *args: Any, **options: Any) -> None:
        self._ensure_admin()
        for spec in EXAMPLE_MODELS:
            model, created = registered_model_register(
                name=spec["name"],
                slug=spec["slug"],
                kind=spec["kind"],
                import_path=spec["import_path"],
                description=spec["description"],
            )
            self.stdout.write(f"{'Registered' if created else 'Already registered'}: {model.slug}")
        self.stdout.write("\nLabel Studio URLs (Project settings > Model > Connect model):")
        for spec in EXAMPLE_MODELS:
            self.stdout.write(f"  {settings.HUB_PUBLIC_URL}/ml/{spec['slug']}")
        self.stdout.write(
            f"Admin: {settings.HUB_PUBLIC_URL}/admin/  API docs: {settings.HUB_PUBLIC_URL}/api/docs/"
        )

    def _ensure_admin(self) -> None:
        user_model = get_user_model()
        password_file = settings.DATA_DIR / "admin-password"
        if user_model.objects.filter(is_superuser=True).exists():
            hint = f" (password in {password_file})" if password_file.exists() else ""
            self.stdout.write(f"Admin user exists{hint}.")
            return
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username="admin", email="", password=password)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        self.stdout.write(
            f"Created admin user: log in as 'admin' with password {password} (kept in {password_file})."
        )
