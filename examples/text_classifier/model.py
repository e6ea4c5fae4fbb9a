"""A TF-IDF + logistic regression text classifier for a ``Text`` + ``Choices`` config."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from inference.sdk import WOWAIHUB

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
    """

    def setup(self) -> None:
        self.pipeline = train_pipeline(*load_seed())

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
            score = float(row[best])
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
