"""The example models the quickstart registers."""

from __future__ import annotations

EXAMPLE_MODELS: list[dict[str, str]] = [
    {
        "name": "Text classifier",
        "slug": "text-classifier",
        "kind": "python",
        "import_path": "examples.text_classifier.model.TextClassifier",
        "description": "TF-IDF + logistic regression for Text + Choices; ships a sentiment seed set.",
    },
    {
        "name": "Dummy",
        "slug": "dummy",
        "kind": "python",
        "import_path": "examples.dummy.model.DummyModel",
        "description": "Chooses the first choice for every task; copy it to start a model.",
    },
]
