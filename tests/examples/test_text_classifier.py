from __future__ import annotations

from examples.text_classifier.model import TextClassifier
from tests.conftest import CFG

HELD_OUT = [
    ("What a great day, everything went perfectly", "Positive"),
    ("I really love the new design", "Positive"),
    ("Excellent support and a friendly team", "Positive"),
    ("Very happy with this purchase", "Positive"),
    ("Fast delivery and great quality", "Positive"),
    ("This is terrible and broken", "Negative"),
    ("The worst service I have ever had", "Negative"),
    ("Slow, buggy and disappointing", "Negative"),
    ("I want my money back, awful", "Negative"),
    ("Rude staff and dirty rooms", "Negative"),
]


def test_the_seed_set_alone_classifies_held_out_sentences() -> None:
    model = TextClassifier(label_config=CFG)
    predictions = model.predict([{"id": i, "data": {"text": text}} for i, (text, _) in enumerate(HELD_OUT)])
    predicted = [p["result"][0]["value"]["choices"][0] for p in predictions]
    accuracy = sum(p == label for p, (_, label) in zip(predicted, HELD_OUT, strict=True)) / len(HELD_OUT)
    assert accuracy >= 0.8, list(zip(predicted, HELD_OUT, strict=True))
    assert all(0.5 < p["score"] <= 1.0 and p["score"] == p["result"][0]["score"] for p in predictions)


def test_model_classes_reach_labels_through_predicted_values() -> None:
    cfg = (
        '<View><Text name="review" value="$body"/><Choices name="mood" toName="review">'
        '<Choice value="Good" predicted_values="Positive"/><Choice value="Bad" predicted_values="Negative"/></Choices></View>'
    )
    model = TextClassifier(label_config=cfg)
    [good, bad] = model.predict(
        [{"data": {"body": "I love it, excellent"}}, {"data": {"body": "awful and broken"}}]
    )
    assert good["result"][0]["value"] == {"choices": ["Good"]} and good["result"][0]["to_name"] == "review"
    assert bad["result"][0]["value"] == {"choices": ["Bad"]}


def test_a_class_without_a_label_gives_an_empty_prediction_and_other_configs_none() -> None:
    cfg = '<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="Positive"/></Choices></View>'
    [negative] = TextClassifier(label_config=cfg).predict([{"data": {"t": "terrible, awful, broken"}}])
    assert negative == {"result": [], "score": 0.0}
    assert TextClassifier(label_config="<View></View>").predict([{"data": {}}]) == []
