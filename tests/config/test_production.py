"""Production settings pass Django's deployment checklist and refuse to start half-configured."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def production_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="chorus.example.org",
        DATABASE_URL="postgres://chorus:secret@127.0.0.1:5432/chorus",
        REDIS_URL="redis://127.0.0.1:6379/0",
        CHORUS_VAR_DIR=str(tmp_path / "var"),
        PYTHONPATH=str(ROOT),
    )
    env.pop("DEBUG", None)
    return env


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def manage_check(env: dict) -> subprocess.CompletedProcess:
    return run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)


def test_production_settings_pass_check_deploy(production_env):
    result = manage_check(production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_does_catch_a_weakened_setting(production_env):
    """The check above can fail: turning off the HTTPS redirect is reported (security.W008)."""
    result = manage_check({**production_env, "SECURE_SSL_REDIRECT": "false"})
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


@pytest.mark.parametrize("name", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without(production_env, name):
    env = {**production_env}
    env.pop(name)
    result = run(["-c", "import config.production"], env)
    assert result.returncode != 0
    assert f"{name} must be set in production" in result.stderr


def test_production_refuses_the_public_development_key(production_env):
    from config.settings import DEVELOPMENT_SECRET_KEY

    result = run(["-c", "import config.production"], {**production_env, "SECRET_KEY": DEVELOPMENT_SECRET_KEY})
    assert result.returncode != 0 and "public development key" in result.stderr
