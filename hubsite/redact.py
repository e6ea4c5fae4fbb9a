"""Keep secrets that travel in URLs out of the logs.

A model's connection key is part of its URL (``/ml/<slug>/k/<key>``), and both gunicorn's access log
and Django's request log (every 4xx/5xx: "Not Found: <path>") write the path. The filter rewrites a log
record's message with the key masked; it is attached to those loggers (settings.LOGGING, and
:class:`GunicornLogger` via hubsite/gunicorn.conf.py).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

_CONNECTION_KEY = re.compile(r"(/ml/[^/\s?\"']+/k/)[^/\s?\"']+")
MASK = "***"


def mask_connection_keys(text: str) -> str:
    return _CONNECTION_KEY.sub(rf"\g<1>{MASK}", text)


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
