"""Stimulus functions of the test experiment (module-level: workers import them by name)."""

import wave

import numpy as np


def synth_tone(path, frequency, duration=0.2, sample_rate=8000):
    t = np.arange(int(duration * sample_rate)) / sample_rate
    samples = (0.3 * np.sin(2 * np.pi * frequency * t) * 32767).astype("<i2")
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.tobytes())
