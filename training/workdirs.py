"""The folders a classic ``fit(completions, workdir)`` writes, kept in object storage too when one is
configured, so that a process on another host finds a version's files when it loads that version.

With ``STORAGES["training"]`` set (``HUB_TRAINING_STORAGE``: a Django storage backend, such as
django-storages' ``S3Storage``, and its options), each folder a version keeps is copied there under its
path relative to the data directory, and a process that builds the model with that version fetches the
files it lacks into the same place first, so a checkpoint path ``fit`` returned is valid on every host.
Without it the data directory (one volume all of the Hub's processes share) is the only copy.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages

logger = logging.getLogger(__name__)

TRAINING_STORAGE = "training"


def _storage() -> Storage | None:
    return storages[TRAINING_STORAGE] if TRAINING_STORAGE in settings.STORAGES else None


def _key(path: Path) -> str:
    return path.relative_to(settings.DATA_DIR).as_posix()


def workdir_keep(workdir: Path) -> int:
    """Copy every file of ``workdir`` (under the data directory) to the training storage; how many
    (0 without one)."""
    storage = _storage()
    if storage is None or not workdir.is_dir():
        return 0
    files = sorted(path for path in workdir.rglob("*") if path.is_file() and not path.is_symlink())
    for path in files:
        key = _key(path)
        if storage.exists(key):
            storage.delete(key)  # a storage that renames on a clash would keep the old file
        with path.open("rb") as content:
            storage.save(key, File(content))
    logger.info("Kept %d file(s) of %s in the training storage", len(files), workdir)
    return len(files)


def _keys(storage: Storage, prefix: str) -> Iterator[str]:
    try:
        folders, files = storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{prefix}/{name}"
    for name in folders:
        yield from _keys(storage, f"{prefix}/{name}")


def workdir_restore(workdir: Path) -> int:
    """Fetch the files of ``workdir`` that the training storage has and this host lacks; how many.
    Only into ``workdir``: a stored name that would land elsewhere is skipped."""
    storage = _storage()
    if storage is None or not workdir.is_relative_to(settings.DATA_DIR):
        return 0
    fetched = 0
    for key in _keys(storage, _key(workdir)):
        target = settings.DATA_DIR / key
        if not target.resolve().is_relative_to(workdir.resolve()):
            logger.warning("Skipping %r from the training storage: outside %s", key, workdir)
            continue
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        with storage.open(key, "rb") as source, partial.open("wb") as copy:
            shutil.copyfileobj(source, copy)
        partial.replace(target)  # readers never see half a file
        fetched += 1
    if fetched:
        logger.info("Fetched %d file(s) of %s from the training storage", fetched, workdir)
    return fetched
