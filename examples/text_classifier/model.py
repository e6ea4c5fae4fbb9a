"""A TF-IDF + logistic regression text classifier for a ``Text`` + ``Choices`` config."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from wow_ai_hub import WOWAIHUB

SEED_FILE = Path(__file__).with_name("seed.csv")


def load_seed() -> tuple[list[str], list[str]]:
    with SEED_FILE.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["label"] for row in rows]


def train_pipeline(texts: list[str], labels: list[str]) -> Pipeline:
    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(max_iter=1000, C=10.0),
    )
    pipeline.fit(texts, labels)
    return pipeline


class TextClassifier(WOWAIHUB):
    """Predicts one choice per text with the classifier's probability as the score.

    Before any annotation it knows the seed set shipped beside it (sentiment: Positive/Negative);
    model classes reach the project's labels by name or through a label's ``predicted_values``.
    Trained (``fit``) on the project's annotations, it learns the project's own labels.

    The score is the confidence in the chosen label (``1 - least_confidence``): sorting tasks by
    prediction score ascending in Label Studio's Data Manager puts the most uncertain first.
    """

    def setup(self) -> None:
        stored = self.get("training_set")
        if stored:
            training_set = json.loads(stored)
            texts, labels = training_set["texts"], training_set["labels"]
        else:
            texts, labels = load_seed()
        self.pipeline = train_pipeline(texts, labels)

    def fit(self, event: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        annotations = data.get("annotations")
        if annotations is None or self.label_config is None:
            return None
        try:
            from_name, _, data_key = self.get_first_tag_occurence("Choices", ("Text", "HyperText"))
        except ValueError:
            return None
        texts, labels = [], []
        for annotation in annotations:
            text = (annotation.get("task") or {}).get("data", {}).get(data_key)
            for region in annotation.get("result") or []:
                choices = (
                    (region.get("value") or {}).get("choices")
                    if region.get("from_name") == from_name
                    else None
                )
                if isinstance(text, str) and choices:
                    texts.append(text)
                    labels.append(str(choices[0]))
        self.report_progress(0.3, f"{len(texts)} labelled texts")
        if len(set(labels)) < 2:
            # One class cannot be learned alone: keep the seed's knowledge beside it.
            seed_texts, seed_labels = load_seed()
            texts, labels = seed_texts + texts, seed_labels + labels
        self.pipeline = train_pipeline(texts, labels)
        self.set("training_set", json.dumps({"texts": texts, "labels": labels}))
        self.report_progress(0.9, "trained")
        accuracy = float(self.pipeline.score(texts, labels))
        return {"texts": len(texts), "classes": sorted(set(labels)), "train_accuracy": round(accuracy, 4)}

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        try:
            from_name, to_name, data_key = self.get_first_tag_occurence("Choices", ("Text", "HyperText"))
        except ValueError:
            return []
        classes = [str(c) for c in self.pipeline.classes_]
        label_map = self.build_label_map(from_name, classes)
        texts = [str(task.get("data", {}).get(data_key, "")) for task in tasks]
        probabilities = self.pipeline.predict_proba(texts)
        predictions = []
        for row in probabilities:
            best = int(row.argmax())
            label = label_map.get(classes[best])
            score = 1.0 - self.least_confidence([float(p) for p in row])
            if label is None:
                predictions.append({"result": [], "score": 0.0})
                continue
            region = {
                "from_name": from_name,
                "to_name": to_name,
                "type": "choices",
                "value": {"choices": [label]},
                "score": score,
            }
            predictions.append({"result": [region], "score": score})
        return predictions
