"""A task's media, resolved the way Label Studio serves it, and images prepared for a model server."""

from __future__ import annotations

import base64
import binascii
import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from core.clients import fetch_bytes, request_json, session_for
from core.egress import EgressPolicy
from core.errors import HubError
from wow_ai_hub.label_studio import CLOUD_SCHEMES, LABEL_STUDIO_PATHS
from wow_ai_hub.media import MediaError

EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class LabelStudioAccess:
    base_url: str
    token: str
    # Whether its address may be loopback or private: see LabelStudioInstance.address_trusted.
    private_address_ok: bool = True


@dataclass(frozen=True)
class PreparedImage:
    content: bytes
    content_type: str
    width: int
    height: int


_access_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_access_lock = threading.Lock()


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT-looking token (not verified: only Label Studio can, and it will)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


def label_studio_headers(access: LabelStudioAccess) -> dict[str, str]:
    """``Token`` for a legacy token; a personal access token (a JWT refresh token) is exchanged for a
    short-lived access token, kept per worker until shortly before it expires."""
    if not access.token:
        return {}
    if _jwt_expiry(access.token) is None:
        return {"Authorization": f"Token {access.token}"}
    key = (access.base_url, access.token)
    with _access_lock:
        cached = _access_tokens.get(key)
    if cached and cached[1] > time.time() + 30:
        return {"Authorization": f"Bearer {cached[0]}"}
    session = session_for(("label-studio", access.base_url))
    try:
        body = request_json(
            session, "POST", f"{access.base_url}/api/token/refresh/", json={"refresh": access.token}
        )
    except HubError as exc:
        raise MediaError(f"Label Studio refused the personal access token: {exc.detail}") from exc
    access_token = body.get("access") if isinstance(body, dict) else None
    if not isinstance(access_token, str):
        raise MediaError("Label Studio's token refresh answered without an access token.")
    with _access_lock:
        _access_tokens[key] = (access_token, _jwt_expiry(access_token) or time.time() + 60)
    return {"Authorization": f"Bearer {access_token}"}


def _decode_data_uri(value: str) -> tuple[bytes, str]:
    header, _, payload = value[len("data:") :].partition(",")
    content_type = header.split(";")[0] or "text/plain"
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=True), content_type
        return unquote_to_bytes(payload), content_type
    except (ValueError, binascii.Error) as exc:
        raise MediaError("the data: URI is not valid base64") from exc


def _same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _fetch(url: str, headers: dict[str, str], access: LabelStudioAccess | None) -> tuple[bytes, str]:
    """Only where the egress policy allows: the project's Label Studio, public and allowed hosts."""
    egress = EgressPolicy(
        label_studio_url=access.base_url if access else "",
        label_studio_private_ok=access.private_address_ok if access else False,
    )
    try:
        # Pooled like the model fan-out it feeds, so a batch reuses its connections.
        session = session_for(("media", urlsplit(url).netloc), pool_size=32, egress=egress)
        return fetch_bytes(session, url, headers=headers)
    except HubError as exc:
        raise MediaError(str(exc.detail)) from exc


def fetch_for_sdk(value: str, task_id: int | None, label_studio: tuple[str, str, bool] | None) -> bytes:
    """What the SDK's ``get_local_path`` downloads through (``wow_ai_hub.media.media_fetcher_install``)."""
    access = LabelStudioAccess(*label_studio) if label_studio else None
    return resolve_media(value, task_id=task_id, access=access)[0]


def access_token_for_sdk(label_studio: tuple[str, str, bool]) -> str:
    """What the SDK's ``get_label_studio_access_token`` answers (``wow_ai_hub.label_studio``'s
    exchanger): the token ``label_studio_headers`` sends, without its scheme."""
    header = label_studio_headers(LabelStudioAccess(*label_studio))["Authorization"]
    return header.split(" ", 1)[1]


def resolve_media(value: str, *, task_id: int | None, access: LabelStudioAccess | None) -> tuple[bytes, str]:
    """The bytes and content type a ``task.data`` value refers to."""
    if value.startswith("data:"):
        return _decode_data_uri(value)
    if value.startswith(("http://", "https://")):
        headers = label_studio_headers(access) if access and _same_origin(value, access.base_url) else {}
        return _fetch(value, headers, access)
    if value.startswith(CLOUD_SCHEMES):
        if access is None or task_id is None:
            raise MediaError(
                f"{value.split('://')[0]}:// media needs the project's Label Studio and the task id"
            )
        fileuri = base64.urlsafe_b64encode(value.encode()).decode()
        return _fetch(
            f"{access.base_url}/tasks/{task_id}/presign/?fileuri={fileuri}",
            label_studio_headers(access),
            access,
        )
    if value.startswith(LABEL_STUDIO_PATHS):
        if access is None:
            raise MediaError(
                "the media is served by Label Studio, but the Hub has no address for it (run /setup)"
            )
        path = value if value.startswith("/") else "/" + value
        if path.startswith("/upload/"):
            path = "/data" + path
        return _fetch(access.base_url + path, label_studio_headers(access), access)
    raise MediaError(f"cannot fetch media from {value[:80]!r}: not a URL, data: URI or Label Studio path")


class PixelBudget:
    """The pixels this worker holds decoded at once, across its threads, bounded by
    ``HUB_MAX_DECODED_PIXELS``. A decode that would pass the bound is refused at once (the task gets
    an error) rather than queued: a batch of huge images must not hold every thread waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_use = 0

    @contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        with self._lock:
            limit = settings.HUB_MAX_DECODED_PIXELS
            if self.in_use + pixels > limit:
                raise MediaError(
                    f"decoding this image needs {pixels:,} pixels and the worker holds {self.in_use:,} "
                    f"of its {limit:,} (HUB_MAX_DECODED_PIXELS); try again with fewer large images"
                )
            self.in_use += pixels
        try:
            yield
        finally:
            with self._lock:
                self.in_use -= pixels


decoded_pixels = PixelBudget()


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation, read from the file's header: PNG's ``getexif`` decodes the whole image
    when the eXIf chunk is not in the header, which the PNG specification puts before the pixels."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    value = image.getexif().get(EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def prepare_image(content: bytes) -> PreparedImage:
    """The upright image the Hub sends and measures. Sizes and orientation come from the header; the
    pixels are decoded only to turn an image upright, within the worker's pixel budget."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            pixels = image.width * image.height
            if pixels > settings.HUB_MAX_IMAGE_PIXELS:
                raise MediaError(
                    f"the image has {image.width}x{image.height} pixels, more than allowed "
                    f"(HUB_MAX_IMAGE_PIXELS={settings.HUB_MAX_IMAGE_PIXELS:,})"
                )
            image_format = image.format or "PNG"
            content_type = Image.MIME.get(image_format, "image/png")
            if _orientation(image) == 1:
                return PreparedImage(content, content_type, image.width, image.height)
            # The decoded image and its turned copy are both held while it is turned.
            with decoded_pixels.reserve(2 * pixels):
                upright = ImageOps.exif_transpose(image)
                buffer = io.BytesIO()
                if image_format == "JPEG":
                    upright.save(buffer, format="JPEG", quality=95)
                else:
                    upright.save(buffer, format=image_format)
                return PreparedImage(buffer.getvalue(), content_type, upright.width, upright.height)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise MediaError(f"the media is not an image the Hub can read ({type(exc).__name__})") from exc
