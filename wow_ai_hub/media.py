"""How a model reads a task's media: ``get_local_path`` and ``preload_task_data``.

With ``LOCAL_FILES_DOCUMENT_ROOT`` set (Label Studio's own setting for its local storage), files of
that storage (``/data/local-files/?d=<path>``) and plain file paths are read from disk, and only under
it: any path that leaves it (``..``, a symlink out, an absolute path elsewhere) is refused, so task data
that anyone who imports tasks controls never names another file of the server. Unset, plain paths are
refused and local-storage files are downloaded from the project's Label Studio. Everything else is
downloaded once through the Hub's guarded client and kept in a cache folder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from wow_ai_hub.label_studio import CLOUD_SCHEMES, LABEL_STUDIO_PATHS, LabelStudioView

# Strings in task data that name media rather than being the data itself: what the Hub's media
# resolver fetches.
MEDIA_PREFIXES = ("http://", "https://", "data:", *LABEL_STUDIO_PATHS, *CLOUD_SCHEMES)
# Label Studio's local-storage URL, with or without the slash before its query (both are in use).
LOCAL_FILES_PATHS = ("/data/local-files/", "/data/local-files?")

# How media is downloaded: (url, task id, the project's Label Studio as address, token and whether a
# private address is trusted, or None) -> the bytes; MediaError when it cannot be had.
MediaFetcher = Callable[[str, int | None, tuple[str, str, bool] | None], bytes]
_fetcher: MediaFetcher | None = None


class MediaError(ValueError):
    """The media of a task cannot be had; the message says why."""


def media_fetcher_install(fetch: MediaFetcher) -> None:
    """Download media through ``fetch``: the Hub installs its guarded resolver when its serving app is
    ready, so the SDK never reaches up into the Hub for it."""
    global _fetcher
    _fetcher = fetch


def local_files_root() -> Path | None:
    """``LOCAL_FILES_DOCUMENT_ROOT``, resolved; None when unset (no file is read from disk then)."""
    from django.conf import settings

    root = getattr(settings, "LOCAL_FILES_DOCUMENT_ROOT", "") if settings.configured else ""
    root = root or os.environ.get("LOCAL_FILES_DOCUMENT_ROOT", "")
    return Path(root).resolve() if root else None


def _local_file_name(url: str) -> str | None:
    """The file a local-storage URL or a plain absolute path names; None for anything else."""
    if url.startswith(LOCAL_FILES_PATHS):
        if local_files_root() is None:
            return None  # Label Studio serves it: downloaded from the project's instance
        names = parse_qs(urlsplit(url).query).get("d")
        return names[0] if names else ""
    if os.path.isabs(url) and not url.startswith(MEDIA_PREFIXES):
        return url
    return None


def local_file(name: str) -> Path:
    """The file ``name`` under the document root (relative to it, or absolute inside it).

    Raises MediaError when there is no root, or the path, once ``..`` and every symlink are resolved,
    is not inside it, or is not a file."""
    root = local_files_root()
    if root is None:
        raise MediaError(
            "local files are not served: set LOCAL_FILES_DOCUMENT_ROOT to the folder they live in"
        )
    if not name or "\x00" in name:
        raise MediaError("a local file URL must name a file: /data/local-files/?d=<path>")
    path = Path(os.path.realpath(root / name))  # an absolute name replaces the root, then is checked
    if path != root and root not in path.parents:
        raise MediaError(f"{name[:120]!r} is outside LOCAL_FILES_DOCUMENT_ROOT: refused")
    if not path.is_file():
        raise MediaError(f"{name[:120]!r}: no such file under LOCAL_FILES_DOCUMENT_ROOT")
    return path


class MediaMixin:
    """The media half of the SDK base class; ``_label_studio`` is the project's Label Studio."""

    _label_studio: LabelStudioView | None

    def get_local_path(
        self,
        url: str,
        project_dir: str | None = None,
        ls_host: str | None = None,
        ls_access_token: str | None = None,
        task_id: int | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> str:
        """The local path of a task's media: a local-storage file in place, anything else (URL, Label
        Studio path, cloud URI, data: URI) downloaded once. Label Studio's address and token default
        to the project's, as the Hub learned them from /setup and the admin."""
        from django.conf import settings

        local = _local_file_name(url)
        if local is not None:
            return str(local_file(local))
        host, token, trusted = (self._label_studio() if self._label_studio else None) or ("", "", False)
        # An address the model's own code passes is as trusted as that code.
        host, token, trusted = (
            (ls_host or host).rstrip("/"),
            ls_access_token or token,
            trusted or bool(ls_host),
        )
        name = url.rsplit("/", 1)[-1].split("?")[0][-80:] if not url.startswith("data:") else "inline"
        cache_dir = Path(project_dir) if project_dir else settings.DATA_DIR / "media-cache"
        path = cache_dir / f"{hashlib.md5(url.encode(), usedforsecurity=False).hexdigest()[:8]}__{name}"
        if not path.exists():
            if _fetcher is None:
                raise MediaError("media can only be downloaded inside the Hub, which installs its fetcher")
            content = _fetcher(url, task_id, (host, token, trusted) if host else None)
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(path.suffix + ".part")
            partial.write_bytes(content)
            partial.replace(path)  # readers never see half a file
        return str(path)

    def preload_task_data(self, task: dict[str, Any], value: Any = None, read_file: bool = True) -> Any:
        """``value`` (default ``task["data"]``) with every media reference replaced by the file's text,
        or by its local path when ``read_file`` is false. A plain absolute path counts as media when
        such a file exists (and is then read only under the document root); a ``None`` inside the data
        stays ``None``."""
        return self._preload(task, task.get("data") if value is None else value, read_file)

    def _preload(self, task: dict[str, Any], value: Any, read_file: bool) -> Any:
        if isinstance(value, dict):
            return {key: self._preload(task, item, read_file) for key, item in value.items()}
        if isinstance(value, list):
            return [self._preload(task, item, read_file) for item in value]
        if isinstance(value, str) and (
            value.startswith(MEDIA_PREFIXES) or (os.path.isabs(value) and os.path.exists(value))
        ):
            path = self.get_local_path(url=value, task_id=task.get("id"))
            if not read_file:
                return path
            # Opened as label-studio-ml-backend opens it: its tests assert this very call.
            with open(path, "r") as file:  # noqa: UP015
                return file.read()
        return value
