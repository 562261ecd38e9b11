"""AudioRecordControl: the browser records with MediaRecorder and uploads with the response.

The upload becomes a `Recording` asset (local key = the page label; parent = the trial, else the
participant; personal by default) kept durably and deposited after commit. The answer holds the
recording's id, url and duration. Bots upload `bot_response_media` (a file in the experiment
folder) through the same path.
"""

from pathlib import Path
from typing import Any

from django.conf import settings

from experiments.timeline.controls import AnswerFormatError, Control
from experiments.timeline.injection import Lazy

from .services import recording_create
from .uploads import Upload, check_upload

AUDIO_TYPES = ("audio/webm", "audio/ogg", "audio/wav", "audio/mp4", "audio/mpeg", "audio/flac")


def _value(available: dict[str, Any], name: str) -> Any:
    value = available.get(name)
    return value.factory() if isinstance(value, Lazy) else value


class AudioRecordControl(Control):
    kind = "audio_record"
    template = "assets/audio_record_control.html"
    scripts = ("assets/audio_record.js",)
    accepts_files = AUDIO_TYPES
    #: The multipart field the browser sends the recording in.
    file_field = "audio"

    def __init__(self, duration: float, *, bot_response_media: str | Path | None = None,
                 personal: bool = True, max_bytes: int | None = None, auto_start: bool = False,
                 show_playback: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not duration or duration <= 0:
            raise ValueError("AudioRecordControl needs a duration in seconds (> 0)")
        self.duration = float(duration)
        self.bot_response_media = bot_response_media
        self.personal = personal
        self.max_bytes = max_bytes
        self.auto_start = auto_start
        self.show_playback = show_playback

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "template": self.template, "duration": self.duration,
                "auto_start": self.auto_start, "show_playback": self.show_playback,
                "file_field": self.file_field, "accepts": list(self.accepts_files)}

    @property
    def upload_limit(self) -> int:
        return min(self.max_bytes or settings.ASSET_UPLOAD_MAX_BYTES, settings.ASSET_UPLOAD_MAX_BYTES)

    def format_answer(self, raw: Any) -> Any:
        raise AnswerFormatError("this page needs a recording: send it as multipart with the answer")

    def default_bot_response(self) -> Any:
        return {"duration_sec": self.duration}

    def bot_files(self, available: dict[str, Any]) -> dict[str, Upload]:
        if self.bot_response_media is None:
            return {}
        path = Path(self.bot_response_media)
        if not path.is_absolute():
            experiment = _value(available, "experiment")
            path = Path(getattr(experiment, "path", "") or settings.EXPERIMENT) / path
        return {self.file_field: Upload.from_path(path)}

    def format_upload(self, raw: Any, *, files: dict[str, Any], page: Any,
                      available: dict[str, Any]) -> dict[str, Any]:
        """Check the upload (400/413/415 before anything is kept), then keep it as a Recording."""
        participant = _value(available, "participant")
        if not files and getattr(participant, "is_bot", False):
            files = self.bot_files(available)
        unexpected = sorted(set(files) - {self.file_field})
        if unexpected:
            raise AnswerFormatError(f"unexpected file field(s) {unexpected}")
        if self.file_field not in files:
            raise AnswerFormatError(f"no recording was uploaded (field '{self.file_field}')")
        upload = Upload.of(files[self.file_field])
        media_type = check_upload(upload, max_bytes=self.upload_limit, accepted_types=self.accepts_files)
        duration = self.duration
        if isinstance(raw, dict) and isinstance(raw.get("duration_sec"), int | float) \
                and not isinstance(raw.get("duration_sec"), bool):
            duration = max(0.0, min(float(raw["duration_sec"]), self.duration + 5.0))
        trial = _value(available, "trial")
        asset = recording_create(
            upload=upload, local_key=page.label, parent=trial if trial is not None else participant,
            media_type=media_type, personal=self.personal,
            variables={"duration_sec": duration, "page_label": page.label},
        )
        return {"origin": "AudioRecordControl", "id": asset.pk, "url": asset.url,
                "duration_sec": duration, "media_type": media_type}
