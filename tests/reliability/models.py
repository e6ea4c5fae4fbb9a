"""Models the reliability tests register by import path."""

from __future__ import annotations

import time
from typing import Any

from wow_ai_hub import WOWAIHUB


class PacedTrainer(WOWAIHUB):
    """Trains in ``steps`` steps of ``step_seconds`` (its registered params), reporting progress, so a
    test can kill the worker mid-run and still see a rerun finish quickly."""

    def fit(self, event: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        steps = int(self.hub_params.get("steps", 12))
        for step in range(steps):
            self.report_progress(step / steps, f"step {step}")
            time.sleep(float(self.hub_params.get("step_seconds", 0.25)))
        return {"steps": steps}
