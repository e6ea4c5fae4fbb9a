"""HTTP basic authentication's ``Authorization`` header (RFC 7617), written and read in one place."""

from __future__ import annotations

import base64
import binascii


def basic_authorization(user: str, password: str) -> str:
    """An HTTP basic ``Authorization`` value, in UTF-8 (RFC 7617 allows it; no password fails to encode)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def basic_credentials(header: str) -> tuple[str, str] | None:
    """The user and password of a basic ``Authorization`` value; None for any other scheme or a value
    that is not base64 of UTF-8."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return user, password
