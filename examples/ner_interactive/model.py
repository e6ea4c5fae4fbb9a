"""Interactive NER for ``Text`` + ``Labels``: label a span once, get every other occurrence proposed,
plus the spans a gazetteer trained from the project's annotations recognises."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from typing import Any

from wow_ai_hub import WOWAIHUB

Span = tuple[int, int, str, str]  # start, end, text, label


def occurrences(text: str, phrase: str) -> list[tuple[int, int]]:
    """Whole-word, case-sensitive occurrences of ``phrase`` in ``text``."""
    if not phrase.strip():
        return []
    pattern = re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def overlaps(start: int, end: int, taken: list[tuple[int, int]]) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end in taken)


class InteractiveNER(WOWAIHUB):
    """Gazetteer model: a surface form's label is the one annotators gave it most; its score is the share
    of annotations that agreed. Longer forms win where spans overlap."""

    def _gazetteer(self) -> dict[str, tuple[str, float]]:
        stored = self.get("ner_model")
        return {form: (label, score) for form, (label, score) in json.loads(stored).items()} if stored else {}

    def _tags(self) -> tuple[str, str, str, set[str]]:
        from_name, to_name, data_key = self.get_first_tag_occurence("Labels", "Text")
        return from_name, to_name, data_key, set(self.parsed_label_config[from_name]["labels"])

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        try:
            from_name, to_name, data_key, labels = self._tags()
        except ValueError:
            return []
        drawn = [
            r
            for r in (context or {}).get("result") or []
            if isinstance(r, dict) and r.get("type") == "labels"
        ]
        gazetteer = {form: v for form, v in self._gazetteer().items() if v[0] in labels}
        predictions = []
        for task in tasks:
            text = str((task.get("data") or {}).get(data_key, ""))
            spans = self._spans(text, drawn, gazetteer, labels)
            regions = [
                {
                    "from_name": from_name,
                    "to_name": to_name,
                    "type": "labels",
                    "score": score,
                    "value": {"start": start, "end": end, "text": phrase, "labels": [label]},
                }
                for start, end, phrase, label, score in spans
            ]
            # The least certain span decides: sorting by score ascending surfaces tasks to check first.
            scores = [score for *_, score in spans]
            predictions.append({"result": regions, "score": min(scores) if scores else 0.0})
        return predictions

    @staticmethod
    def _spans(
        text: str, drawn: list[dict[str, Any]], gazetteer: dict[str, tuple[str, float]], labels: set[str]
    ) -> list[tuple[int, int, str, str, float]]:
        taken = [
            (int(r["value"]["start"]), int(r["value"]["end"])) for r in drawn if "start" in r.get("value", {})
        ]
        found: list[tuple[int, int, str, str, float]] = []
        # What the user just labelled comes first: every other occurrence, same label, full confidence.
        candidates = [
            (str(r["value"].get("text", "")), r["value"].get("labels", [None])[0], 1.0) for r in drawn
        ]
        candidates += [
            (form, label, score)
            for form, (label, score) in sorted(gazetteer.items(), key=lambda kv: -len(kv[0]))
        ]
        for phrase, label, score in candidates:
            if label not in labels:
                continue
            for start, end in occurrences(text, phrase):
                if not overlaps(start, end, taken):
                    taken.append((start, end))
                    found.append((start, end, text[start:end], label, score))
        return sorted(found)

    def fit(self, event: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        annotations = data.get("annotations")
        if annotations is None:
            return None
        votes: dict[str, Counter[str]] = defaultdict(Counter)
        for annotation in annotations:
            for region in annotation.get("result") or []:
                value = region.get("value") or {}
                if region.get("type") == "labels" and value.get("text") and value.get("labels"):
                    votes[str(value["text"]).strip()][str(value["labels"][0])] += 1
        gazetteer = {}
        for form, counts in votes.items():
            label, count = counts.most_common(1)[0]
            gazetteer[form] = (label, round(count / sum(counts.values()), 4))
        self.set("ner_model", json.dumps(gazetteer))
        self.report_progress(1.0, f"learned {len(gazetteer)} entities")
        return {"annotations": len(annotations), "entities": len(gazetteer)}
