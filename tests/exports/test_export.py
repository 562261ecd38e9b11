import hashlib
import json

import pytest

from exports.archive import Archive
from exports.services import ExportOptionError, export_create

from .conftest import SECRETS, csv_rows, manage, read_csv, run_bot

pytestmark = pytest.mark.django_db(transaction=True)


def test_export_layout_manifest_counts_and_checksums(tmp_path):
    for i in range(3):
        run_bot(worker_id=f"w{i}", assignment_id=f"a{i}")
    run_bot(worker_id="half", steps=3)
    result = export_create(path=tmp_path / "out")
    root = result.path
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["kind"] == "export"
    assert manifest["experiment"]["label"] == "Hello world"
    assert len(manifest["experiment"]["source_hash"]) == 64
    counts = manifest["row_counts"]
    assert counts["experiments_participant"] == 4
    assert counts["experiments_response"] == 3 * 10 + 3
    for table, n in counts.items():
        assert csv_rows(root / "database" / f"{table}.csv") == n, table
    # Every file on disk is listed with its sha256, and nothing else is.
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert on_disk - {"manifest.json"} == set(manifest["files"])
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == entry["sha256"]
    for name in ("data/participants.csv", "data/responses.csv", "data/module_states.csv",
                 "data/basic_participants.csv", "participant_identifiers.csv", "logs.jsonl",
                 "source/experiment.py"):
        assert (root / name).is_file(), name
    assert csv_rows(root / "data" / "responses.csv") == counts["experiments_response"]
    # hello_world has no assets: the asset manifest is there, with its header only.
    assert (root / "assets" / "manifest.csv").read_text().splitlines() == ["path"]
    # Nothing left beside the destination.
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_analysis_files_unpack_answers_and_keep_identifiers_apart(tmp_path):
    run_bot(worker_id="w-1", answers={"name": "Ada", "age": 41})
    root = export_create(path=tmp_path / "out").path
    responses = {r["page_label"]: r for r in read_csv(root / "data" / "responses.csv")}
    assert responses["name"]["answer"] == "Ada"  # a scalar answer is the value itself
    assert responses["age"]["answer"] == "41"
    instruments = json.loads(responses["instruments"]["answer"])
    assert isinstance(instruments, list)
    participants = read_csv(root / "data" / "participants.csv")
    assert participants[0]["vars.answers"] and json.loads(participants[0]["vars.answers"])["name"] == "Ada"
    assert participants[0]["vars.likes_music"] in ("true", "false")
    assert "worker_id" not in participants[0] and "token" not in participants[0]
    identifiers = read_csv(root / "participant_identifiers.csv")
    assert identifiers == [{"participant_id": participants[0]["id"], "worker_id": "w-1",
                            "assignment_id": "", "recruiter": "direct",
                            "entry_params": '{"PROLIFIC_PID": "w-1"}', "user_agent": "",
                            "ip_address": ""}]
    events = [json.loads(line) for line in (root / "logs.jsonl").read_text().splitlines()]
    assert {e["event"] for e in events} >= {"participant_created", "participant_completed", "branch"}
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)


def test_dict_answers_become_columns(tmp_path):
    from experiments.models import Participant, Response

    participant = run_bot(worker_id="w", steps=2)
    Response.objects.create(participant=Participant.objects.get(pk=participant.pk),
                            page_uuid="00000000-0000-0000-0000-000000000001", page_label="form",
                            answer={"rating": 4, "comment": "fine", "nested": {"a": 1}})
    root = export_create(path=tmp_path / "out").path
    rows = read_csv(root / "data" / "responses.csv")
    form = next(r for r in rows if r["page_label"] == "form")
    assert (form["answer.rating"], form["answer.comment"]) == ("4", "fine")
    assert json.loads(form["answer.nested"]) == {"a": 1}
    other = next(r for r in rows if r["page_label"] == "name")
    assert other["answer.rating"] == ""


def test_formula_cells_are_neutralised_in_data_files_but_not_in_database_files(tmp_path):
    run_bot(worker_id="=cmd|' /C calc'!A0", answers={"name": "=HYPERLINK(\"http://x\")",
                                                     "age": 30})
    root = export_create(path=tmp_path / "out").path
    rows = {r["page_label"]: r for r in read_csv(root / "data" / "responses.csv")}
    assert rows["name"]["answer"] == "'=HYPERLINK(\"http://x\")"
    ident = read_csv(root / "participant_identifiers.csv")[0]
    assert ident["worker_id"] == "'=cmd|' /C calc'!A0"
    # Numbers keep their sign: -0.5 is a number, not a formula.
    from exports.csvsafe import neutralise
    assert neutralise("-0.5") == "-0.5" and neutralise("-1+2") == "'-1+2"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)" and neutralise("+") == "'+"
    raw = (root / "database" / "experiments_response.csv").read_text()
    assert '"""=HYPERLINK(\\""http://x\\"")"""' in raw or '=HYPERLINK' in raw
    assert "'=HYPERLINK" not in raw


def test_anonymised_export_contains_no_identifier_anywhere(tmp_path, settings):
    settings.STORE_IP_ADDRESSES = True
    for i in range(2):
        run_bot(**{k: f"{v}-{i}" if k != "ip_address" else f"203.0.113.{70 + i}"
                   for k, v in SECRETS.items()})
    run_bot(**SECRETS, steps=2)
    result = export_create(path=tmp_path / "anon", anonymize=True, zip=True)
    import zipfile

    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        assert "participant_identifiers.csv" not in names
        blobs = {name: archive.read(name) for name in names}
    needles = [SECRETS["worker_id"], SECRETS["assignment_id"], "SecretBrowser", "bot-ua-4471",
               "203.0.113.", "WKR-7f3a9c", "ASG-51d2e8"]
    for name, blob in blobs.items():
        for needle in needles:
            assert needle.encode() not in blob, f"{needle} found in {name}"
    from experiments.models import Participant

    tokens = list(Participant.objects.values_list("token", flat=True))
    for name, blob in blobs.items():
        for token in tokens:
            assert token.encode() not in blob, f"participant token in {name}"
    # Participant ids stay consistent across files.
    manifest = json.loads(blobs["manifest.json"])
    assert manifest["options"]["anonymize"] is True
    ids = {int(line.split(b",")[0]) for line in blobs["database/experiments_participant.csv"].splitlines()[1:]}
    import csv
    import io

    data_ids = {int(r["id"]) for r in csv.DictReader(io.StringIO(blobs["data/participants.csv"].decode()))}
    response_ids = {int(r["participant_id"]) for r in csv.DictReader(io.StringIO(blobs["data/responses.csv"].decode()))}
    assert ids == data_ids == set(Participant.objects.values_list("id", flat=True))
    assert response_ids <= ids


def test_invalid_options_exit_2_with_a_clear_message(tmp_path):
    bad = manage("export", "--path", str(tmp_path / "x"), "--assets", "bogus")
    assert bad.returncode == 2 and "invalid choice: 'bogus'" in bad.stderr
    missing = manage("export")
    assert missing.returncode == 2 and "--path" in missing.stderr
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "chapter1.tex").write_text("precious")
    refused = manage("export", "--path", str(tmp_path / "thesis"))
    assert refused.returncode == 2 and "not a Chorus export" in refused.stderr
    assert (tmp_path / "thesis" / "chapter1.tex").read_text() == "precious"
    with pytest.raises(ExportOptionError, match="--assets must be one of"):
        export_create(path=tmp_path / "y", assets="everything")
    assert not (tmp_path / "y").exists() and not (tmp_path / "x").exists()


def test_export_command_replaces_an_earlier_export_and_writes_zip(tmp_path):
    run_bot(worker_id="w")
    first = manage("export", "--path", str(tmp_path / "out"), "--no-source")
    assert first.returncode == 0, first.stderr
    assert not (tmp_path / "out" / "source").exists()
    run_bot(worker_id="w2")
    second = manage("export", "--path", str(tmp_path / "out"), "--zip")
    assert second.returncode == 0, second.stderr
    archive = Archive(tmp_path / "out.zip")
    archive.verify()
    assert archive.manifest["row_counts"]["experiments_participant"] == 2
    again = manage("export", "--path", str(tmp_path / "out"))
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["row_counts"][
        "experiments_participant"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.zip"]


def test_every_project_table_is_exported_and_nothing_else():
    from django.apps import apps

    from exports.tables import export_tables

    names = {t.name for t in export_tables()}
    # monitor: the study controls' state (recruitment open/paused/closed) is part of the record.
    expected = {m._meta.db_table for app in ("experiments", "assets", "sync", "trials", "monitor")
                for m in apps.get_app_config(app).get_models(include_auto_created=True)}
    assert names == expected
    assert not names & {"auth_user", "django_session", "exports_exportjob", "exports_snapshot"}


def test_sheet_registry_skips_missing_models_and_splits_by_a_column(tmp_path, monkeypatch):
    """The hook trials/nodes/assets/sync sheets use: one declaration, split and unpacked."""
    from exports import sheets

    run_bot(worker_id="w")
    monkeypatch.setattr(sheets, "SHEETS", [
        *sheets.SHEETS,
        sheets.Sheet("events", "experiments.TimelineEvent", unpack=("value",), split_by="kind"),
        sheets.Sheet("widgets", "experiments.NoSuchModel"),
    ])
    root = export_create(path=tmp_path / "out").path
    manifest = json.loads((root / "manifest.json").read_text())
    assert "data/events.csv" in manifest["sheets"] and not (root / "data" / "widgets.csv").exists()
    all_events = read_csv(root / "data" / "events.csv")
    by_kind = {p.stem: read_csv(p) for p in (root / "data" / "events").iterdir()}
    assert set(by_kind) == {e["kind"] for e in all_events}
    assert sum(len(rows) for rows in by_kind.values()) == len(all_events)
    assert all(row["kind"] == kind for kind, rows in by_kind.items() for row in rows)
