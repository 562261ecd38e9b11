import csv
import io
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from exports.services import export_create

from .conftest import read_csv, run_bot

SHEETS = Path(__file__).parent / "demo_experiments" / "sheets"


@pytest.fixture
def staff_client(client, db):
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def sheets_experiment(use_experiment):
    use_experiment(SHEETS)


@pytest.mark.django_db
def test_staff_get_json_and_csv(staff_client):
    run_bot(worker_id="w1")
    response = staff_client.get("/basic_data?sheet=participants")
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 1 and rows[0]["complete"] is True
    all_sheets = staff_client.get("/basic_data").json()
    assert set(all_sheets) == {"participants"}
    as_csv = staff_client.get("/basic_data?sheet=participants&format=csv")
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert parsed[0]["id"] == str(rows[0]["id"]) and parsed[0]["complete"] == "true"


@pytest.mark.django_db
def test_unknown_sheet_is_400(staff_client, sheets_experiment):
    response = staff_client.get("/basic_data?sheet=nope")
    assert response.status_code == 400
    assert "Invalid sheet" in response.json()["error"] or "unknown sheet" in response.json()["error"]
    assert staff_client.get("/basic_data?sheet=participant&format=xml").status_code == 400


@pytest.mark.django_db
def test_token_in_header_works_and_never_in_query(client, settings, sheets_experiment):
    settings.BASIC_DATA_TOKEN = "s3cret-token-value"
    run_bot(worker_id="w1")
    assert client.get("/basic_data?sheet=participant").status_code == 401
    ok = client.get("/basic_data?sheet=participant", HTTP_AUTHORIZATION="Token s3cret-token-value")
    assert ok.status_code == 200 and ok.json()[0]["answer"] == "Bot"
    bearer = client.get("/basic_data?sheet=summary", HTTP_AUTHORIZATION="Bearer s3cret-token-value")
    assert bearer.json() == [{"n": 1, "formula": "=1+1"}]
    wrong = client.get("/basic_data?sheet=participant", HTTP_AUTHORIZATION="Token wrong")
    assert wrong.status_code == 403
    in_query = client.get("/basic_data?sheet=participant&token=s3cret-token-value")
    assert in_query.status_code == 400 and "query string" in in_query.json()["error"]
    csv_body = client.get("/basic_data?sheet=summary&format=csv",
                          HTTP_AUTHORIZATION="Token s3cret-token-value").content.decode()
    assert "'=1+1" in csv_body  # neutralised for spreadsheets


@pytest.mark.django_db
def test_no_token_configured_means_staff_only(client, settings):
    settings.BASIC_DATA_TOKEN = ""
    assert client.get("/basic_data", HTTP_AUTHORIZATION="Token ").status_code == 403
    user = User.objects.create_user("someone", password="pw")
    client.force_login(user)
    assert client.get("/basic_data?sheet=participants").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_basic_data_sheets_are_in_exports(tmp_path, sheets_experiment):
    run_bot(worker_id="WKR-basic")
    root = export_create(path=tmp_path / "plain").path
    assert read_csv(root / "data" / "basic_participant.csv")[0]["worker_id"] == "WKR-basic"
    assert read_csv(root / "data" / "basic_summary.csv") == [{"n": "1", "formula": "'=1+1"}]
    anonymous = export_create(path=tmp_path / "anon", anonymize=True).path
    row = read_csv(anonymous / "data" / "basic_participant.csv")[0]
    assert "worker_id" not in row and row["answer"] == "Bot"
    manifest = json.loads((anonymous / "manifest.json").read_text())
    assert "data/basic_summary.csv" in manifest["files"]
