"""Speech transcription of long audio with pocketsphinx's shipped English model, per segment."""

from __future__ import annotations

import threading
import uuid
import wave
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wow_ai_hub import WOWAIHUB

RATE = 16000
FRAME_SECONDS = 0.02
# Quieter than this fraction of the loudest frame is silence; a pause this long ends a segment.
SILENCE_RATIO = 0.05
MIN_PAUSE_SECONDS = 0.3
MIN_SPEECH_SECONDS = 0.15
PAD_SECONDS = 0.1
FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]"}


@dataclass(frozen=True)
class Segment:
    start: float
    end: float


def read_wav(path: str) -> NDArray[np.int16]:
    """16 kHz mono 16-bit samples from a PCM WAV of any rate and channel count."""
    with wave.open(path, "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError("only 16-bit PCM WAV is supported")
        channels, rate = wav.getnchannels(), wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).astype(np.float64)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    if rate != RATE and len(samples):
        # Linear interpolation is enough for speech recognition at these rates.
        positions = np.arange(0, len(samples), rate / RATE)
        samples = np.interp(positions, np.arange(len(samples)), samples)
    return np.clip(samples, -32768, 32767).astype(np.int16)


def split_on_silence(samples: NDArray[np.int16], rate: int = RATE) -> list[Segment]:
    """Stretches of speech separated by pauses, by frame energy relative to the loudest frame."""
    frame = int(rate * FRAME_SECONDS)
    count = len(samples) // frame
    if count == 0:
        return []
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    energy = np.sqrt((frames**2).mean(axis=1))
    voiced = energy > energy.max() * SILENCE_RATIO if energy.max() > 0 else np.zeros(count, dtype=bool)
    segments: list[Segment] = []
    start: int | None = None
    quiet = 0
    for index, is_voiced in enumerate([*voiced, False]):
        if is_voiced:
            start = index if start is None else start
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet * FRAME_SECONDS >= MIN_PAUSE_SECONDS or index == count:
                end = index - quiet + 1
                if (end - start) * FRAME_SECONDS >= MIN_SPEECH_SECONDS:
                    segments.append(Segment(start * FRAME_SECONDS, end * FRAME_SECONDS))
                start, quiet = None, 0
    duration = len(samples) / rate
    return [Segment(max(0.0, s.start - PAD_SECONDS), min(duration, s.end + PAD_SECONDS)) for s in segments]


class SpeechTranscriber(WOWAIHUB):
    """For the "ASR using segments" template: a ``labels`` region per stretch of speech and its text in
    the per-region ``TextArea``. The score is pocketsphinx's mean word posterior."""

    def setup(self) -> None:
        from pocketsphinx import Decoder

        self._decoder = Decoder()  # the en-US acoustic model, dictionary and LM the package ships
        self._lock = threading.Lock()  # one decoder, used one utterance at a time

    def transcribe(self, samples: NDArray[np.int16]) -> tuple[str, float]:
        with self._lock:
            self._decoder.start_utt()
            self._decoder.process_raw(samples.tobytes(), full_utt=True)
            self._decoder.end_utt()
            words = [(s.word, float(s.prob)) for s in self._decoder.seg() if s.word not in FILLERS]
        text = " ".join(word.split("(")[0] for word, _ in words)  # "read(2)" is a pronunciation variant
        return text, (sum(p for _, p in words) / len(words)) if words else 0.0

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        try:
            labels_name, audio_name, audio_key = self.get_first_tag_occurence("Labels", "Audio")
        except ValueError:
            return []
        text_name = next(
            (
                n
                for n, t in self.parsed_label_config.items()
                if t["type"] == "TextArea" and audio_name in t["to_name"]
            ),
            None,
        )
        label = self.parsed_label_config[labels_name]["labels"][0]
        return [
            self._predict_task(task, labels_name, audio_name, audio_key, text_name, label) for task in tasks
        ]

    def _predict_task(
        self,
        task: dict[str, Any],
        labels_name: str,
        audio_name: str,
        audio_key: str,
        text_name: str | None,
        label: str,
    ) -> dict[str, Any]:
        samples = read_wav(self.get_local_path(task["data"][audio_key], task_id=task.get("id")))
        regions: list[dict[str, Any]] = []
        scores = []
        for segment in split_on_silence(samples):
            text, score = self.transcribe(samples[int(segment.start * RATE) : int(segment.end * RATE)])
            if not text:
                continue
            region_id = uuid.uuid4().hex[:10]
            span = {"start": round(segment.start, 3), "end": round(segment.end, 3)}
            regions.append(
                {
                    "id": region_id,
                    "from_name": labels_name,
                    "to_name": audio_name,
                    "type": "labels",
                    "value": {**span, "labels": [label]},
                    "score": score,
                }
            )
            if text_name:
                regions.append(
                    {
                        "id": region_id,
                        "from_name": text_name,
                        "to_name": audio_name,
                        "type": "textarea",
                        "value": {**span, "text": [text]},
                        "score": score,
                    }
                )
            scores.append(score)
        return {"result": regions, "score": min(scores) if scores else 0.0}
