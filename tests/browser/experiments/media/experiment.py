"""Image, audio and video prompts. The media are tiny files made here and given as data: URLs."""

import base64
import io
import struct
import wave
import zlib

from experiments.api import (
    AudioPrompt,
    Experiment,
    ImagePrompt,
    ModularPage,
    PushButtonControl,
    SuccessfulEndPage,
    VideoPrompt,
    join,
)


def png_data_url(width: int = 4, height: int = 2) -> str:
    """A solid blue PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x1a\x56\xdb" * width for _ in range(height))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode()


def wav_data_url(seconds: float = 0.25, rate: int = 8000) -> str:
    """Silence, as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(b"\x80" * int(seconds * rate))
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode()


IMAGE_URL = png_data_url()
AUDIO_URL = wav_data_url()
# No video encoder is available here; a <video> element plays an audio-only file too, which is
# enough to show the element gets the URL and loads it.
VIDEO_URL = wav_data_url(0.5)


class MediaTest(Experiment):
    label = "Media test"
    timeline = join(
        ModularPage("image", ImagePrompt(IMAGE_URL, "What colour is this?", alt="A blue square",
                                         width="200px"),
                    PushButtonControl(["blue", "red"], ["Blue", "Red"]), time_estimate=2),
        ModularPage("audio", AudioPrompt(AUDIO_URL, "Listen."), time_estimate=2),
        ModularPage("video", VideoPrompt(VIDEO_URL, "Watch."), time_estimate=2),
        SuccessfulEndPage(),
    )
