"""A custom back-end written against AssetStorage alone: files in a folder under flattened names,
plus a journal line per completed store. An optional delay (seconds, from the environment, read
at each call) makes a store slow, so tests can kill a worker in the middle of one."""

import os
import shutil
import time
from pathlib import Path

from assets.storage import AssetStorage


class JournalStorage(AssetStorage):
    def _root(self) -> Path:
        root = Path(os.environ["CHORUS_JOURNAL_ROOT"])
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _file(self, key: str) -> Path:
        return self._root() / key.replace("/", "__")

    def store(self, source, key, *, content_type=""):
        if self.exists(key):
            return
        delay = float(os.environ.get("CHORUS_JOURNAL_DELAY", "0"))
        started = os.environ.get("CHORUS_JOURNAL_STARTED")
        if started:
            Path(started).write_text(str(os.getpid()))
        time.sleep(delay)
        tmp = self._root() / f".tmp-{os.getpid()}"
        shutil.copyfile(source, tmp)
        os.replace(tmp, self._file(key))
        with open(self._root() / "journal.log", "a") as journal:
            journal.write(f"{key}\n")

    def exists(self, key):
        return self._file(key).is_file()

    def size(self, key):
        return self._file(key).stat().st_size

    def open(self, key):
        return open(self._file(key), "rb")

    def delete(self, key):
        self._file(key).unlink(missing_ok=True)

    def list(self, prefix):
        out = {}
        for path in self._root().iterdir():
            key = path.name.replace("__", "/")
            if key.startswith(prefix) and not path.name.startswith(".") and path.name != "journal.log":
                out[key] = path.stat().st_size
        return out
