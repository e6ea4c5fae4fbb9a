from __future__ import annotations

from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Inference"

    def ready(self) -> None:
        from inference.media import access_token_for_sdk, fetch_for_sdk
        from wow_ai_hub.label_studio import access_token_exchanger_install
        from wow_ai_hub.media import media_fetcher_install

        media_fetcher_install(fetch_for_sdk)
        access_token_exchanger_install(access_token_for_sdk)
