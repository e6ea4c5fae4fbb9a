"""A text classifier written to the SDK guide's classic API.

``fit(completions, workdir)`` learns word counts per class from the annotated tasks and writes them to
a checkpoint in ``workdir``; what it returns is ``self.train_output`` of the instances built after it,
which load the checkpoint into ``self.model`` in ``__init__``. Until the first training it predicts
nothing. A multinomial naive Bayes keeps it dependency-free and deterministic.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from typing import Any

from wow_ai_hub.model import LabelStudioMLBase
from wow_ai_hub.utils import DATA_UNDEFINED_NAME, get_single_tag_keys, is_skipped

WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def classify(model: dict[str, Any], tokens: list[str]) -> tuple[str, float]:
    """The most likely class of the tokens and its probability (Laplace-smoothed naive Bayes)."""
    counts: dict[str, dict[str, int]] = model["counts"]
    vocabulary = {word for words_of in counts.values() for word in words_of}
    log_scores = {}
    for label, words_of in counts.items():
        total = sum(words_of.values()) + len(vocabulary)
        log_scores[label] = sum(math.log((words_of.get(t, 0) + 1) / total) for t in tokens)
    best = max(log_scores, key=lambda label: log_scores[label])
    peak = log_scores[best]
    return best, round(1 / sum(math.exp(s - peak) for s in log_scores.values()), 4)


class ClassicTextClassifier(LabelStudioMLBase):
    """One ``Choices`` on one ``Text``: the class of each text."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Built without a config too (the admin's "Test connection"): the tags are read when there is one.
        self.from_name, self.to_name, self.value, self.labels = (
            get_single_tag_keys(self.parsed_label_config, "Choices", "Text")
            if self.label_config
            else ("", "", "", [])
        )
        self.model: dict[str, Any] | None = None
        if self.train_output.get("checkpoint"):
            with open(self.train_output["checkpoint"]) as checkpoint:
                self.model = json.load(checkpoint)

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        if self.model is None:
            return []
        predictions = []
        for task in tasks:
            text = task["data"].get(self.value) or task["data"].get(DATA_UNDEFINED_NAME) or ""
            label, score = classify(self.model, words(text))
            region = {
                "from_name": self.from_name,
                "to_name": self.to_name,
                "type": "choices",
                "value": {"choices": [label]},
            }
            predictions.append({"result": [region], "score": score})
        return predictions

    def fit(  # type: ignore[override]  # the classic signature, recognised by the Hub
        self, completions: list[dict[str, Any]], workdir: str | None = None, **kwargs: Any
    ) -> dict[str, Any] | None:
        counts: dict[str, Counter[str]] = {}
        for task in completions:
            if is_skipped(task) or not task["annotations"][0].get("result"):
                continue
            label = task["annotations"][0]["result"][0]["value"]["choices"][0]
            text = task["data"].get(self.value) or task["data"].get(DATA_UNDEFINED_NAME) or ""
            counts.setdefault(label, Counter()).update(words(text))
        if not counts or workdir is None:
            return None
        model = {"counts": {label: dict(c) for label, c in counts.items()}}
        checkpoint = os.path.join(workdir, "model.json")
        with open(checkpoint, "w") as file:
            json.dump(model, file)
        examples = sum(1 for task in completions if not is_skipped(task))
        return {"checkpoint": checkpoint, "labels": sorted(counts), "examples": examples}
