from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from core.errors import HubError
from examples.catalog import DETECTOR_MODEL, EXAMPLE_MODELS
from registry.models import RegisteredModel
from registry.services import model_fetch_classes, registered_model_register


class Command(BaseCommand):
    help = "Create an admin user if there is none, register the example models, and print how to connect."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--detector-url",
            help="Inference URL of a running examples/byom_detector server, to register it too.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._ensure_admin()
        slugs = []
        for spec in EXAMPLE_MODELS:
            model, created = registered_model_register(
                name=spec["name"],
                slug=spec["slug"],
                kind=spec["kind"],
                import_path=spec["import_path"],
                description=spec["description"],
            )
            slugs.append(self._report(model, created))
        if options["detector_url"]:
            slugs.append(self._register_detector(options["detector_url"]))
        self.stdout.write("\nLabel Studio URLs (Project settings > Model > Connect model):")
        for slug in slugs:
            self.stdout.write(f"  {settings.HUB_PUBLIC_URL}/ml/{slug}")
        self.stdout.write(
            f"Admin: {settings.HUB_PUBLIC_URL}/admin/  API docs: {settings.HUB_PUBLIC_URL}/api/docs/"
        )

    def _report(self, model: RegisteredModel, created: bool) -> str:
        self.stdout.write(f"{'Registered' if created else 'Already registered'}: {model.slug}")
        return model.slug

    def _register_detector(self, url: str) -> str:
        model, created = registered_model_register(
            name=DETECTOR_MODEL["name"],
            slug=DETECTOR_MODEL["slug"],
            kind=DETECTOR_MODEL["kind"],
            url=url,
            description=DETECTOR_MODEL["description"],
        )
        try:
            fetched = model_fetch_classes(model=model)
            self.stdout.write(f"Fetched {fetched.total} classes of {model.slug}.")
        except HubError as exc:
            self.stderr.write(f"Could not fetch the classes of {model.slug}: {exc.detail}")
        return self._report(model, created)

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
