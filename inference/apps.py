from __future__ import annotations

from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Inference"

    def ready(self) -> None:
        from inference.media import fetch_for_sdk
        from wow_ai_hub.media import media_fetcher_install

        media_fetcher_install(fetch_for_sdk)
