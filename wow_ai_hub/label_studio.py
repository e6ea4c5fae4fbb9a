"""A model's way to its project's Label Studio: address, token and label-studio-sdk's client.

They come from the Hub's view of the project (``/setup`` and the admin), not from environment
variables: one model's project must not see another project's Label Studio or token. A backend served
alone is its operator's: there ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` stand in for the admin
(``HUB_SERVED_ALONE``, ``LabelStudioInstance.base_url``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LabelStudioView = Callable[[], tuple[str, str, bool] | None]

# How the project's token becomes the one to send: (address, token, private address trusted) -> a
# legacy token as it is, a personal access token (a JWT refresh token) exchanged for a fresh access
# token. The Hub installs its exchange (cached per worker) when its serving app is ready.
TokenExchanger = Callable[[tuple[str, str, bool]], str]
_exchanger: TokenExchanger | None = None


def access_token_exchanger_install(exchange: TokenExchanger) -> None:
    """Turn personal access tokens into access tokens through ``exchange`` (the Hub's)."""
    global _exchanger
    _exchanger = exchange


# Paths Label Studio serves itself (uploads, local storage, storage proxies).
LABEL_STUDIO_PATHS = ("/data/", "data/", "/upload/", "upload/", "/storage-data/", "/tasks/")
# Cloud storage, which Label Studio presigns.
CLOUD_SCHEMES = ("s3://", "gs://", "gcs://", "azure-blob://")


class LabelStudioMixin:
    """The Label Studio half of the SDK base class; ``_label_studio`` is the project's Label Studio."""

    _label_studio: LabelStudioView | None

    def _label_studio_view(self) -> tuple[str, str] | None:
        view = self._label_studio() if self._label_studio else None
        return (view[0].rstrip("/"), view[1]) if view and view[0] else None

    def get_label_studio_url(self) -> str | None:
        """The project's Label Studio address, or None while the Hub knows none."""
        view = self._label_studio_view()
        return view[0] if view else None

    def get_label_studio_access_token(self) -> str | None:
        """A token for the project's Label Studio, or None while the Hub has none: a legacy token as
        it is, and for a personal access token a fresh access token (``Authorization: Bearer``), as
        label-studio-ml-backend gives it."""
        view = self._label_studio() if self._label_studio else None
        if not view or not view[0] or not view[1]:
            return None
        return _exchanger((view[0].rstrip("/"), view[1], view[2])) if _exchanger else view[1]

    def get_label_studio_client(self) -> Any:
        """label-studio-sdk's ``LabelStudio`` client for the project's instance, with the Hub's
        outbound timeouts. Raises RuntimeError while the Hub knows no Label Studio for the project."""
        from django.conf import settings
        from label_studio_sdk import LabelStudio

        view = self._label_studio_view()
        if view is None:
            raise RuntimeError(
                "The Hub knows no Label Studio for this project yet: connect the model in Label Studio"
                " (it sends its address with /setup) or set the instance's URL and token in the admin"
                " (a backend served alone: LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY)."
            )
        timeout = sum(settings.HUB_OUTBOUND_TIMEOUT)
        return LabelStudio(base_url=view[0], api_key=view[1] or None, timeout=timeout)  # type: ignore[no-untyped-call]

    # The name label-studio-ml-backend gives it.
    _get_label_studio_client = get_label_studio_client
