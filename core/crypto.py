"""Encryption of secrets at rest (model server keys, Label Studio tokens).

Keys come from ``settings.HUB_ENCRYPTION_KEYS``: the first encrypts, all decrypt, so a key is
rotated by putting a new one in front and running ``manage.py rotate_encryption_keys`` (or re-saving the
rows), then removing the old key.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@lru_cache(maxsize=1)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.HUB_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


_UNDECRYPTABLE = "A stored secret cannot be decrypted with the configured HUB_ENCRYPTION_KEYS."


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(_UNDECRYPTABLE) from exc


def rotate(token: str) -> str:
    """The same secret, encrypted with the first key (whichever configured key encrypted it)."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(_UNDECRYPTABLE) from exc
