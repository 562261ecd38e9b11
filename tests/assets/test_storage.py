"""Storage back-ends: LocalStorage, S3Storage against moto's server over HTTP, a custom back-end;
hostile keys."""

import pytest
import requests

from assets.keys import InvalidKey, clean_extension, clean_key, clean_relative_path
from assets.kinds import ExperimentAsset, InheritedAssets
from assets.models import Asset
from assets.services import asset_deposit
from assets.storage import AssetStorage, LocalStorage, S3Storage
from experiments.loading import get_experiment
from experiments.timeline import ExperimentError

from .conftest import EXPERIMENTS, s3_client


@pytest.mark.parametrize("hostile", [
    "../etc/passwd", "a/../../b", "/etc/passwd", "C:/windows", "a\\b", "a\x00b", "a//b", "./a",
    "x" * 1000, "", "   ", "line\nbreak",
])
def test_hostile_paths_are_rejected(hostile):
    with pytest.raises(InvalidKey):
        clean_relative_path(hostile)


def test_keys_accept_unicode_and_reject_control_characters_and_length():
    assert clean_key("Grüße/日本語 ") == "Grüße/日本語"
    assert clean_key("e\u0301") == "\u00e9"  # NFC: one spelling per key
    for hostile in ["\x00", "a\x00b", "tab\there", "x" * 256, 3]:
        with pytest.raises(InvalidKey):
            clean_key(hostile)
    assert clean_extension("wav") == ".wav"
    for hostile in [".wav/../x", "..", ".a b", ".php\x00.wav"]:
        with pytest.raises(InvalidKey):
            clean_extension(hostile)


def test_local_storage_never_overwrites_and_lists_by_prefix(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    first, second = tmp_path / "1.txt", tmp_path / "2.txt"
    first.write_text("first")
    second.write_text("second")
    storage.store(first, "cache/a.txt")
    storage.store(second, "cache/a.txt")
    assert storage.open("cache/a.txt").read() == b"first"
    storage.store(second, "other/b.txt")
    assert storage.list("cache/") == {"cache/a.txt": 5}
    assert set(storage.list("")) == {"cache/a.txt", "other/b.txt"}
    for hostile in ["../outside.txt", "/etc/passwd", "a/../../x"]:
        with pytest.raises(ValueError):
            storage.store(first, hostile)
    assert not (tmp_path / "outside.txt").exists()
    storage.delete("cache/a.txt")
    assert not storage.exists("cache/a.txt")


def test_s3_storage_stores_privately_presigns_and_never_overwrites(s3, moto_server, tmp_path):
    storage = S3Storage(s3, "exp")
    first, second = tmp_path / "1.wav", tmp_path / "2.wav"
    first.write_bytes(b"RIFF-first")
    second.write_bytes(b"RIFF-second")
    storage.store(first, "cache/sha256/abc.wav", content_type="audio/wav")
    storage.store(second, "cache/sha256/abc.wav", content_type="audio/wav")
    assert storage.exists("cache/sha256/abc.wav") and not storage.exists("cache/sha256/zzz.wav")
    assert storage.list("cache/") == {"cache/sha256/abc.wav": len(b"RIFF-first")}
    head = s3_client(moto_server.endpoint).head_object(Bucket=s3, Key="exp/cache/sha256/abc.wav")
    assert head["ContentType"] == "audio/wav"
    url = storage.url("cache/sha256/abc.wav", expires=60, content_type="audio/wav")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url and "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200 and fetched.content == b"RIFF-first"
    unsigned = requests.get(f"{moto_server.endpoint}/{s3}/exp/cache/sha256/abc.wav", timeout=10)
    assert unsigned.status_code == 403
    storage.export("cache/sha256/abc.wav", tmp_path / "out" / "x.wav")
    assert (tmp_path / "out" / "x.wav").read_bytes() == b"RIFF-first"
    storage.delete("cache/sha256/abc.wav")
    assert storage.list("cache/") == {}


class MemoryStorage(AssetStorage):
    """A custom back-end written only against the base class."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def store(self, source, key, *, content_type=""):
        self.objects.setdefault(key, source.read_bytes())

    def exists(self, key):
        return key in self.objects

    def size(self, key):
        return len(self.objects[key])

    def open(self, key):
        import io

        return io.BytesIO(self.objects[key])

    def delete(self, key):
        self.objects.pop(key, None)

    def list(self, prefix):
        return {k: len(v) for k, v in self.objects.items() if k.startswith(prefix)}


@pytest.mark.django_db
def test_a_custom_back_end_receives_deposits_and_identical_bytes_are_stored_once(
        use_experiment, asset_dirs, tmp_path):
    use_experiment(EXPERIMENTS / "local")
    storage = MemoryStorage()
    rows = []
    for name in ("a.wav", "b.wav"):
        source = tmp_path / name
        source.write_bytes(b"RIFF same bytes")
        rows.append(ExperimentAsset(local_key=name, input_path=source).deposit(async_=True))
    for row in rows:
        assert asset_deposit(asset_id=row.pk, storage=storage).status == "deposited"
    rows = [Asset.objects.get(pk=row.pk) for row in rows]
    assert rows[0].storage_key == rows[1].storage_key
    assert rows[0].storage_key.startswith("experiment/assets-local-test/")
    assert list(storage.objects) == [rows[0].storage_key]
    assert all(row.input_path == "" for row in rows)  # the staged copies are gone
    assert list((asset_dirs / "inbox").iterdir()) == []


@pytest.mark.django_db
def test_the_experiment_chooses_its_storage_in_one_line(use_experiment, asset_dirs, s3, tmp_path):
    use_experiment(EXPERIMENTS / "s3")
    assert isinstance(get_experiment().asset_storage, S3Storage)
    source = tmp_path / "x.wav"
    source.write_bytes(b"RIFF....WAVE")
    row = ExperimentAsset(local_key="x", input_path=source).deposit(async_=False)
    assert row.status == "deposited"
    keys = get_experiment().asset_storage.list("experiment/")
    assert keys == {row.storage_key: len(b"RIFF....WAVE")}
    assert source.exists()  # delete_input defaults to False


def test_inherited_assets_refuse_paths_outside_the_export(tmp_path):
    export = tmp_path / "export" / "assets"
    export.mkdir(parents=True)
    (export / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "secret.txt").write_text("secret")
    header = "key_within_experiment,path,extension,personal,variables\n"
    (export / "manifest.csv").write_text(header + "a,a.wav,.wav,false,{}\n")
    inherited = InheritedAssets(export / "manifest.csv", key="old")
    assert list(inherited) == ["a"] and inherited["a"].key_within_experiment == "old/a"
    for hostile in ["../../secret.txt", "/etc/passwd", "a\\..\\..\\secret.txt"]:
        (export / "manifest.csv").write_text(header + f"b,{hostile},.txt,false,{{}}\n")
        with pytest.raises(ExperimentError):
            InheritedAssets(export / "manifest.csv", key="old")
