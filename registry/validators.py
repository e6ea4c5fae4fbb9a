from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible


@deconstructible
class ServiceURLValidator:
    """http(s) URLs of services, including compose-style hosts without a dot (``http://detector:9091``),
    which Django's URLValidator refuses."""

    message = "Enter an http:// or https:// URL with a host, e.g. http://detector:9091/api/infer."

    def __call__(self, value: Any) -> None:
        try:
            parts = urlsplit(str(value))
            port = parts.port  # raises ValueError on a malformed port
        except ValueError as exc:
            raise ValidationError(self.message, code="invalid") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in str(value):
            raise ValidationError(self.message, code="invalid")
        del port

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServiceURLValidator)

    def __hash__(self) -> int:
        return hash(type(self))


def url_credentials_split(url: str) -> tuple[str, str, str]:
    """``url`` without the ``user:password@`` written into it, and the (decoded) username and password
    it carried ("" when none)."""
    try:
        parts = urlsplit(url)
        username, password = parts.username, parts.password
    except ValueError:
        return url, "", ""  # not a URL: its validator says so
    if username is None and password is None:
        return url, "", ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host)), unquote(username or ""), unquote(password or "")
