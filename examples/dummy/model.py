"""The smallest useful model: copy this file to start your own."""

from __future__ import annotations

from typing import Any

from wow_ai_hub import WOWAIHUB


class DummyModel(WOWAIHUB):
    """Chooses the first label of the config's first ``Choices`` tag for every task, with score 0.5."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        choices = next(
            (
                (name, tag)
                for name, tag in self.parsed_label_config.items()
                if tag["type"] == "Choices" and tag["labels"]
            ),
            None,
        )
        if choices is None:
            return []  # nothing this model can predict for this config
        from_name, tag = choices
        region = {
            "from_name": from_name,
            "to_name": tag["to_name"][0],
            "type": "choices",
            "value": {"choices": [tag["labels"][0]]},
            "score": 0.5,
        }
        return [{"result": [region], "score": 0.5} for _ in tasks]
