"""Load the experiment folder named by settings.EXPERIMENT (or `manage.py --experiment`).

The folder is imported as a package, so `experiment.py` may import its neighbours. Errors say
what is wrong and where; they surface at load, not on the first participant's request.

Experiment code runs with the experiment folder as working directory, as under PsyNet (where
one starts the experiment from its folder): importing experiment.py and calling function assets
happen inside `in_experiment_folder` (and so do `manage.py deploy`'s preparation and nodes'
`async_on_deploy`), so `open("stimuli.csv")` finds the file next to experiment.py. Functions
run during a participant's request (code blocks, page makers) keep the process's working
directory: build paths from `Path(__file__).parent` there. The working directory is process-wide, so those calls hold one re-entrant lock
(`_cwd_lock`, taken after `_lock` when both are held) while they run.
"""

import contextlib
import hashlib
import importlib
import os
import re
import sys
import threading
import types
from pathlib import Path

from django.conf import settings

from .experiment import Experiment
from .timeline.elements import ExperimentError

_lock = threading.Lock()
_cwd_lock = threading.RLock()
_cache: dict[str, Experiment] = {}


@contextlib.contextmanager
def in_experiment_folder(folder: str | Path | None = None):
    """Run the body with the experiment folder (default: the served experiment's) as working
    directory, restoring the previous one after."""
    target = Path(folder or get_experiment().path).expanduser().resolve()
    with _cwd_lock:
        previous = os.getcwd()
        os.chdir(target)
        try:
            yield target
        finally:
            os.chdir(previous)


class ExperimentLoadError(ExperimentError):
    pass


def source_hash(folder: Path) -> str:
    """sha256 over the folder's files (names and bytes), ignoring caches."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith("."):
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def package_name(folder: Path) -> str:
    slug = re.sub(r"\W", "_", folder.name) or "experiment"
    return f"chorus_experiment_{slug}_{hashlib.sha1(str(folder).encode()).hexdigest()[:8]}"


def served_package() -> str | None:
    """The import package of the experiment this process serves (settings.EXPERIMENT)."""
    path = getattr(settings, "EXPERIMENT", "")
    return package_name(Path(path).expanduser().resolve()) if path else None


def load_experiment(path: str | Path) -> Experiment:
    """Import, check and compile the experiment in `path`; cached per folder."""
    folder = Path(path).expanduser().resolve()
    key = str(folder)
    if key in _cache:
        return _cache[key]
    with _lock:
        if key in _cache:
            return _cache[key]
        if not folder.exists():
            raise ExperimentLoadError(f"experiment folder {folder} does not exist")
        if not folder.is_dir():
            raise ExperimentLoadError(f"{folder} is not a folder; EXPERIMENT names a folder holding experiment.py")
        if not (folder / "experiment.py").is_file():
            raise ExperimentLoadError(f"{folder} has no experiment.py")
        package = package_name(folder)
        module = types.ModuleType(package)
        module.__path__ = [str(folder)]  # type: ignore[attr-defined]
        sys.modules[package] = module
        try:
            with in_experiment_folder(folder):
                experiment_module = importlib.import_module(f"{package}.experiment")
        except ExperimentError as exc:
            sys.modules.pop(package, None)
            raise ExperimentLoadError(f"{folder / 'experiment.py'}: {exc}") from exc
        except SyntaxError as exc:
            sys.modules.pop(package, None)
            raise ExperimentLoadError(
                f"{exc.filename}, line {exc.lineno}: syntax error: {exc.msg}"
            ) from exc
        except ImportError as exc:
            sys.modules.pop(package, None)
            raise ExperimentLoadError(f"{folder / 'experiment.py'}: cannot import: {exc}") from exc
        classes = [
            obj for obj in vars(experiment_module).values()
            if isinstance(obj, type) and issubclass(obj, Experiment) and obj is not Experiment
            and obj.__module__ == experiment_module.__name__
        ]
        if not classes:
            raise ExperimentLoadError(f"{folder / 'experiment.py'} defines no Experiment subclass")
        if len(classes) > 1:
            names = ", ".join(sorted(c.__name__ for c in classes))
            raise ExperimentLoadError(f"{folder / 'experiment.py'} defines several Experiment subclasses ({names}); keep one")
        cls = classes[0]
        try:
            with in_experiment_folder(folder):
                cls.compile()
        except ExperimentError as exc:
            raise ExperimentLoadError(f"{folder / 'experiment.py'}: {exc}") from exc
        cls.path = key
        cls.source_hash = source_hash(folder)
        experiment = cls()
        _cache[key] = experiment
        return experiment


_by_setting: dict[str, Experiment] = {}


def get_experiment() -> Experiment:
    """The experiment this process serves (cached by the setting's value: this is on every request)."""
    name = settings.EXPERIMENT
    experiment = _by_setting.get(name)
    if experiment is None:
        experiment = _by_setting[name] = load_experiment(name)
    return experiment
