"""A tiny stimulus: 10 ms of silence with one click at `position` (so every file differs)."""

import wave


def click(path, position, sample_rate=8000):
    frames = bytearray(2 * sample_rate // 100)
    index = (2 * position) % len(frames)
    frames[index:index + 2] = b"\xff\x7f"
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(bytes(frames))
