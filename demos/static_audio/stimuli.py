"""Stimulus synthesis for the static-audio demo: a sequence of tones, numpy + the wave module.

`frequencies` are pitch offsets in cents from A4 (440 Hz), as in the assets guide's nodes
(start_frequency + i * frequency_gradient with values around -500..500).
"""

import wave

import numpy as np

REFERENCE_HZ = 440.0


def synth_stimulus(path, frequencies, note_duration=0.35, gap=0.05, sample_rate=22050):
    """Write a mono 16-bit WAV to `path`: one smoothed harmonic tone per frequency."""
    notes = []
    n = int(note_duration * sample_rate)
    t = np.arange(n) / sample_rate
    ramp = min(n // 2, int(0.02 * sample_rate))
    envelope = np.ones(n)
    envelope[:ramp] = np.linspace(0, 1, ramp)
    envelope[-ramp:] = np.linspace(1, 0, ramp)
    for cents in frequencies:
        f0 = REFERENCE_HZ * 2 ** (float(cents) / 1200)
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))
        notes.append(tone * envelope)
        notes.append(np.zeros(int(gap * sample_rate)))
    signal = np.concatenate(notes) if notes else np.zeros(1)
    signal = signal / max(1e-9, np.abs(signal).max()) * 0.5
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes((signal * 32767).astype("<i2").tobytes())
