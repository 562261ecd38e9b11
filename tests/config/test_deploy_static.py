"""`manage.py deploy` collects static files (every start of a deployment runs it), can skip them
where an image already holds them, and names the fix when it cannot write them."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.django_db
def test_deploy_collects_static_files(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    out = StringIO()
    call_command("deploy", "--no-migrate", stdout=out, stderr=StringIO())
    assert (tmp_path / "static" / "chorus" / "page.js").is_file()
    assert (tmp_path / "static" / "admin" / "css" / "base.css").is_file()
    assert f"Collected static files into {tmp_path / 'static'}" in out.getvalue()


@pytest.mark.django_db
def test_deploy_no_collectstatic_leaves_them_alone(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    out = StringIO()
    call_command("deploy", "--no-migrate", "--no-collectstatic", stdout=out, stderr=StringIO())
    assert not (tmp_path / "static").exists()
    assert "Deployed 'Hello world'" in out.getvalue()


def test_deploy_names_the_fix_when_static_files_cannot_be_written(settings, tmp_path):
    (tmp_path / "a-file").write_text("")
    settings.STATIC_ROOT = tmp_path / "a-file" / "static"
    with pytest.raises(CommandError, match="could not collect static files into .*--no-collectstatic"):
        call_command("deploy", stdout=StringIO(), stderr=StringIO())
