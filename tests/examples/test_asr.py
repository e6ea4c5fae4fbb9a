from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client
from numpy.typing import NDArray

from examples.asr.model import RATE, read_wav, split_on_silence
from tests.conftest import QuietHandler, register, serving

FIXTURE = Path(__file__).resolve().parents[2] / "examples" / "asr" / "fixtures" / "speech.wav"
CFG = (
    '<View><Labels name="labels" toName="audio"><Label value="Speech"/><Label value="Noise"/></Labels>'
    '<Audio name="audio" value="$audio"/>'
    '<TextArea name="transcription" toName="audio" rows="2" editable="true" perRegion="true" required="true"/></View>'
)


def tone(seconds: float) -> NDArray[np.int16]:
    t = np.arange(int(seconds * RATE)) / RATE
    return (8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)


def gap(seconds: float) -> NDArray[np.int16]:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def test_silence_splits_speech_into_segments_at_the_pauses() -> None:
    audio = np.concatenate([gap(0.5), tone(1.0), gap(0.6), tone(0.5), gap(0.2), tone(0.3), gap(1.0)])
    segments = split_on_silence(audio)
    # The 0.2 s pause is shorter than a sentence break: the last two tones are one segment.
    assert [(round(s.start, 2), round(s.end, 2)) for s in segments] == [(0.4, 1.6), (2.0, 3.2)]
    assert split_on_silence(gap(2.0)) == []
    assert split_on_silence(np.concatenate([gap(1.0), tone(0.05), gap(1.0)])) == []  # a click is not speech


class Uploads(QuietHandler):
    def do_GET(self) -> None:
        ok = self.headers.get("Authorization") == "Token t0k" and self.path == "/data/upload/1/speech.wav"
        self.reply(200 if ok else 401, FIXTURE.read_bytes() if ok else b"", "audio/wav")


@pytest.fixture
def label_studio() -> Iterator[str]:
    with serving(Uploads) as url:
        yield url


def speech_truth() -> list[tuple[float, float]]:
    """Where the fixture has sound, from its samples (10 ms frames, any sound above a tenth of the peak)."""
    samples = read_wav(str(FIXTURE)).astype(float)
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    loud = np.abs(frames).max(axis=1) > np.abs(samples).max() * 0.1
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
    spans = [(a / 100, b / 100) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start - merged[-1][1] < 0.3:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


@pytest.mark.django_db
def test_long_audio_is_transcribed_per_segment(
    client: Client, label_studio: str, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    register("asr", "examples.asr.model.SpeechTranscriber")
    setup = {"project": "1.1700000000", "schema": CFG, "hostname": label_studio, "access_token": "t0k"}
    assert client.post("/ml/asr/setup", json.dumps(setup), content_type="application/json").status_code == 200
    body = {
        "tasks": [{"id": 1, "data": {"audio": "/data/upload/1/speech.wav"}}],
        "project": "1.1700000000",
        "label_config": CFG,
    }
    response = client.post("/ml/asr/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    result = response.json()["results"][0]["result"]
    labels = [r for r in result if r["type"] == "labels"]
    texts = {r["id"]: r for r in result if r["type"] == "textarea"}
    truth = speech_truth()
    assert len(truth) == 2 and len(labels) == 2
    duration = 5.07
    for region, (start, end) in zip(labels, truth, strict=True):
        value = region["value"]
        assert value["labels"] == ["Speech"] and 0 <= value["start"] < value["end"] <= duration
        assert abs(value["start"] - start) <= 0.3 and abs(value["end"] - end) <= 0.3, (value, start, end)
        assert (
            texts[region["id"]]["value"]["start"] == value["start"]
            and texts[region["id"]]["from_name"] == "transcription"
        )
        assert 0 < region["score"] <= 1
    assert labels[0]["value"]["end"] <= labels[1]["value"]["start"]
    # What pocketsphinx's small model gets from this synthetic voice ("hello world" ... "how are you today"):
    # the first sentence whole, the second as "how are you going to".
    first, second = (texts[r["id"]]["value"]["text"][0].split() for r in labels)
    assert "hello" in first
    assert {"how", "are", "you"} <= set(second)
