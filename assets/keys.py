"""Checks for names that come from researchers, manifests and requests.

Storage keys of managed assets are derived from content hashes, never from such names, so a
hostile name cannot choose where bytes land; these checks reject the rest (`../`, absolute
paths, NUL and control characters, over-long or empty names) with a clear message.
"""

import hashlib
import re
import unicodedata

MAX_KEY_LENGTH = 255
MAX_STORAGE_KEY_LENGTH = 900
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,16}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidKey(ValueError):
    """A key or path that cannot be used; the message says why."""


def clean_key(value: object, *, what: str = "key", max_length: int = MAX_KEY_LENGTH) -> str:
    """A researcher-facing key (local key, key_within_experiment): NFC, printable, bounded."""
    if not isinstance(value, str):
        raise InvalidKey(f"{what} must be a string, not {type(value).__name__}")
    key = unicodedata.normalize("NFC", value).strip()
    if not key:
        raise InvalidKey(f"{what} is empty")
    if _CONTROL.search(key):
        raise InvalidKey(f"{what} contains a control character (NUL, newline...)")
    if len(key) > max_length:
        raise InvalidKey(f"{what} is longer than {max_length} characters")
    return key


def clean_relative_path(value: object, *, what: str = "path") -> str:
    """A '/'-separated path that stays inside its folder: no absolute, '..', '.', '\\' or empty parts."""
    path = clean_key(value, what=what, max_length=MAX_STORAGE_KEY_LENGTH)
    if "\\" in path:
        raise InvalidKey(f"{what} {path!r} contains a backslash")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise InvalidKey(f"{what} {path!r} is absolute")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidKey(f"{what} {path!r} has an empty, '.' or '..' part")
    return path


def clean_storage_key(value: object) -> str:
    return clean_relative_path(value, what="storage key")


def clean_extension(value: object) -> str:
    """'' or a dot and 1-16 letters/digits ('.wav'); a missing dot is added."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise InvalidKey("extension must be a string")
    ext = value if value.startswith(".") else f".{value}"
    if not _EXTENSION.match(ext):
        raise InvalidKey(f"extension {value!r} must be a dot and 1-16 letters or digits")
    return ext.lower()


def derived_key(*parts: str) -> str:
    """A key_within_experiment made from parts; hashed when too long to store whole."""
    key = "/".join(parts)
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: MAX_KEY_LENGTH - 18]}~{digest}"
