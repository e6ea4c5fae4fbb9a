from __future__ import annotations

from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Inference"

    def ready(self) -> None:
        # Registers the model kinds this app implements; nothing is loaded here.
        from inference import runners  # noqa: F401
