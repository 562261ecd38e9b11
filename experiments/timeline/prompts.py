"""What a page shows: text, images, audio, video. Each prompt is described as a JSON-able dict.

Text is escaped unless it is HTML markup: an object with `__html__` (Django's `mark_safe`/
`SafeString`, markupsafe's `Markup`) or with a `render()` method (e.g. dominate tags, as PsyNet
experiments write them), or a plain string given with `html=True`.
"""

from typing import Any


def as_text(content: Any) -> tuple[str, bool]:
    """(text, is_html) of a prompt's content: markup objects are HTML, plain strings are not."""
    if content is None:
        return "", False
    html = getattr(content, "__html__", None)
    if callable(html):
        return str(html()), True
    if not isinstance(content, str):
        render = getattr(content, "render", None)
        if callable(render):
            return str(render()), True
        raise TypeError(f"prompt text must be a string or HTML markup (an object with __html__ or "
                        f"render()), not {type(content).__name__}")
    return str(content), False


def _url(source: Any) -> str:
    """A prompt's media may be a URL or any object with a `.url` (assets)."""
    url = getattr(source, "url", source)
    return str(url() if callable(url) else url)


class Prompt:
    kind = "text"

    def __init__(self, text: Any = "", *, text_align: str = "left", html: bool = False) -> None:
        self.text, markup = as_text(text)
        self.text_align = text_align
        self.html = html or markup

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "text_align": self.text_align, "html": self.html}


class ImagePrompt(Prompt):
    kind = "image"
    #: Waits for media whose asset is not deposited yet (assets app).
    scripts = ("assets/asset_wait.js",)

    def __init__(self, url: Any, text: str = "", *, width: str = "", height: str = "",
                 alt: str = "", **kwargs: Any) -> None:
        super().__init__(text, **kwargs)
        self.url, self.width, self.height, self.alt = url, width, height, alt

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "url": _url(self.url), "width": self.width,
                "height": self.height, "alt": self.alt or self.text}


class AudioPrompt(Prompt):
    kind = "audio"
    scripts = ("assets/asset_wait.js",)

    def __init__(self, url: Any, text: str = "", *, controls: bool = True, autoplay: bool = False,
                 loop: bool = False, **kwargs: Any) -> None:
        super().__init__(text, **kwargs)
        self.url, self.controls, self.autoplay, self.loop = url, controls, autoplay, loop

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "url": _url(self.url), "controls": self.controls,
                "autoplay": self.autoplay, "loop": self.loop}


class VideoPrompt(AudioPrompt):
    kind = "video"

    def __init__(self, url: Any, text: str = "", *, width: str = "", **kwargs: Any) -> None:
        super().__init__(url, text, **kwargs)
        self.width = width

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "width": self.width}
