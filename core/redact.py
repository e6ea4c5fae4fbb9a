"""Keep secrets that travel in URLs out of the logs.

A model's connection key is part of its URL (``/ml/<slug>/k/<key>``), and both gunicorn's access log
and Django's request log (every 4xx/5xx: "Not Found: <path>") write the path, raw or decoded. The
filter rewrites a log record's message with the key masked, however the path spelled it; it is
attached to those loggers and to the console handler (settings.LOGGING), and to gunicorn's
(:class:`GunicornLogger` via hubsite/gunicorn.conf.py).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

from gunicorn.glogging import Logger

# The segment after "/k/", wherever it is: a mistyped key URL (/ML/x/k/<key>, a 404) names the key too.
_KEY_SEGMENT = re.compile(r"(/k/)[^/\s?#\"'<>]+", re.IGNORECASE)
# A run of URL characters holding a percent-escape: "/ml/x%2Fk%2F<key>%2Fhealth" reaches the same view
# (the server decodes %2F before routing) but its slashes are not slashes until decoded.
_ESCAPED_TOKEN = re.compile(r"[^\s\"'<>]*%[^\s\"'<>]*")
MASK = "***"


def _decoded(token: str) -> str:
    """``token`` percent-decoded until it no longer changes (a proxy may have encoded it twice)."""
    for _ in range(3):
        decoded = unquote(token)
        if decoded == token:
            break
        token = decoded
    return token


def _mask_escaped(match: re.Match[str]) -> str:
    decoded = _decoded(match[0])
    return decoded if _KEY_SEGMENT.search(decoded) else match[0]


def mask_connection_keys(text: str) -> str:
    """``text`` with every connection key in it masked, in any spelling of its path."""
    if "%" in text:
        text = _ESCAPED_TOKEN.sub(_mask_escaped, text)
    return _KEY_SEGMENT.sub(rf"\g<1>{MASK}", text)


class ConnectionKeyFilter(logging.Filter):
    """Masks connection keys in a record's message; the record is always kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_connection_keys(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class GunicornLogger(Logger):
    """gunicorn's logger with connection keys masked in its access and error logs."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            log.addFilter(ConnectionKeyFilter())
