"""What every ``wow-ai-ml`` command shares: where the Hub is, the backend folder's file, the error."""

from __future__ import annotations

from pathlib import Path

import hubsite

HUB_ROOT = Path(hubsite.__file__).resolve().parent.parent
CONFIG_FILE = "wow-ai-ml.json"


class CliError(Exception):
    """A user-facing failure: printed without a traceback, exit code 1."""
