"""The example models the quickstart registers."""

from __future__ import annotations

# Python models, served in the Hub's own processes.
EXAMPLE_MODELS: list[dict[str, str]] = [
    {
        "name": "Text classifier",
        "slug": "text-classifier",
        "kind": "python",
        "import_path": "examples.text_classifier.model.TextClassifier",
        "description": "TF-IDF + logistic regression for Text + Choices; ships a sentiment seed set.",
    },
    {
        "name": "Interactive NER",
        "slug": "ner-interactive",
        "kind": "python",
        "import_path": "examples.ner_interactive.model.InteractiveNER",
        "description": "Proposes other occurrences of a labelled span; learns a gazetteer from annotations.",
    },
    {
        "name": "Speech transcriber",
        "slug": "asr",
        "kind": "python",
        "import_path": "examples.asr.model.SpeechTranscriber",
        "description": "pocketsphinx English model; one region and its text per segment of long audio.",
    },
    {
        "name": "Dummy",
        "slug": "dummy",
        "kind": "python",
        "import_path": "examples.dummy.model.DummyModel",
        "description": "Chooses the first choice for every task; copy it to start a model.",
    },
]

# The external V7-style detector the quickstart starts beside the Hub (examples/byom_detector).
DETECTOR_MODEL: dict[str, str] = {
    "name": "BYOM detector",
    "slug": "byom-detector",
    "kind": "http",
    "description": "Shapes (contours), faces (OpenCV Haar cascade) and a brightness tag, over V7's BYOM.",
}
