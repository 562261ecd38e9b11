"""The README stays true: its first experiment runs, and its settings table lists every variable."""

import json
import re
from pathlib import Path

import pytest

from experiments import services
from experiments.loading import load_experiment
from experiments.models import Response
from experiments.selectors import current_page, page_payload

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no section '{title}'"
    return match.group(1)


@pytest.mark.django_db
def test_first_experiment_in_the_readme_runs_to_the_end(tmp_path, use_experiment):
    code = re.search(r"```python\n(.*?)```", section("Write your first experiment"), re.S).group(1)
    (tmp_path / "experiment.py").write_text(code)
    assert load_experiment(tmp_path).label == "My first experiment"
    use_experiment(tmp_path)

    participant = services.participant_create(worker_id="readme")
    shown = []
    while not current_page(participant).terminal:
        page = current_page(participant)
        shown.append(json.dumps(page_payload(participant)))
        participant = services.response_submit(
            token=participant.token, page_uuid=participant.page_uuid,
            raw_answer=page.get_bot_response({"participant": participant}),
        ).participant
    assert participant.complete and not participant.failed
    assert any("Hello, Ada!" in payload for payload in shown)
    assert Response.objects.filter(participant=participant).count() == 4


def test_settings_table_lists_every_environment_variable():
    table = section("Settings")
    sources = "".join((ROOT / "config" / name).read_text() for name in ("settings.py", "production.py"))
    read = set(re.findall(r'env_\w+\(\s*"([A-Z][A-Z0-9_]*)"', sources))
    read |= set(re.findall(r'_require\(\s*"([A-Z][A-Z0-9_]*)"', sources))
    assert read, "no environment variables found: has config/settings.py changed shape?"
    missing = sorted(name for name in read if f"`{name}`" not in table)
    assert not missing, f"README's settings table does not describe {missing}"
