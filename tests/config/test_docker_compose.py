"""docker-compose.yml describes a deployment that can start: every Chorus service's command names
modules and commands that exist, and runs (with `--help`/`--check-config`) under the production
settings with the environment compose would give it.

Docker itself does not run on this machine, so the file is checked here rather than brought up.
"""

import importlib
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict = COMPOSE["services"]
#: Services built from this repository (web, worker, beat, deploy); the rest are stock images.
CHORUS = {name: svc for name, svc in SERVICES.items() if "build" in svc}
#: Variables the operator must provide (`${NAME:?...}`); the test provides them.
REQUIRED = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
    "MINIO_ROOT_PASSWORD": secrets.token_urlsafe(16),
}
#: Environment variables read by a library rather than by our settings.
READ_BY_LIBRARIES = {"AWS_ACCESS_KEY_ID": "boto3", "AWS_SECRET_ACCESS_KEY": "boto3"}
VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value):
    """Compose's variable substitution, with defaults, and the test's values for required ones."""
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match):
        name, op, arg = match.groups()
        if name in REQUIRED:
            return REQUIRED[name]
        if op and op.endswith("?"):
            pytest.fail(f"${{{name}}} is required by docker-compose.yml but the test gives no value")
        return arg if op else ""

    return VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def command(service: dict) -> list[str]:
    cmd = service["command"]
    return interpolate(shlex.split(cmd) if isinstance(cmd, str) else list(cmd))


def container_env(service: dict) -> dict[str, str]:
    """The service's environment, with bind-mounted container paths mapped back to this repo."""
    env = {k: str(interpolate(v)) for k, v in service["environment"].items()}
    for volume in service.get("volumes", []):
        source, target, *_ = interpolate(volume).split(":")
        if source.startswith((".", "/")):
            env = {k: v.replace(target, str((ROOT / source).resolve())) if v.startswith(target) else v
                   for k, v in env.items()}
    return env


def run_in_service_env(service: dict, argv: list[str], tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env.update(container_env(service), PYTHONPATH=str(ROOT), CHORUS_VAR_DIR=str(tmp_path / "var"))
    argv = [str(Path(sys.executable).parent / argv[0]) if argv[0] != "python" else sys.executable,
            *argv[1:]]
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_deployment_has_every_process_and_server():
    assert {"web", "worker", "beat", "deploy"} <= set(CHORUS)
    images = {name: svc.get("image", "") for name, svc in SERVICES.items() if name not in CHORUS}
    assert images["postgres"].startswith("postgres:")
    assert images["redis"].startswith("redis:")
    assert "minio" in images["minio"]                               # the S3-compatible store
    assert (ROOT / CHORUS["web"]["build"] / "Dockerfile").is_file()


def test_exactly_one_celery_beat():
    def runs_beat(service: dict) -> bool:
        argv = command(service) if "command" in service else []
        return argv[:1] == ["celery"] and ("beat" in argv or "-B" in argv or "--beat" in argv)

    beats = [name for name, svc in SERVICES.items() if runs_beat(svc)]
    assert beats == ["beat"]
    assert SERVICES["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_services_wait_for_the_deploy_step_which_waits_for_the_servers():
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, f"{name} depends on unknown service {dependency}"
    for name in ("web", "worker", "beat"):
        assert CHORUS[name]["depends_on"]["deploy"]["condition"] == "service_completed_successfully"
    # The image collected static files at build time (test below); the deploy container's own
    # copy would not reach the web containers, so it skips collecting them.
    assert command(CHORUS["deploy"]) == ["python", "manage.py", "deploy", "--no-collectstatic"]
    assert CHORUS["deploy"]["restart"] == "no"
    deploy_deps = CHORUS["deploy"]["depends_on"]
    assert deploy_deps["postgres"]["condition"] == deploy_deps["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", sorted(CHORUS))
def test_environment_is_wired_to_the_servers(name):
    env = container_env(CHORUS[name])
    assert env["DJANGO_SETTINGS_MODULE"] == "config.production"
    assert env["SECRET_KEY"] == REQUIRED["SECRET_KEY"] and env["ALLOWED_HOSTS"]
    database, redis, s3 = (urlparse(env[k]) for k in ("DATABASE_URL", "REDIS_URL", "AWS_S3_ENDPOINT_URL"))
    assert (database.scheme, database.hostname, database.password) == (
        "postgres", "postgres", REQUIRED["POSTGRES_PASSWORD"])
    assert database.username == SERVICES["postgres"]["environment"]["POSTGRES_USER"]
    assert database.path.lstrip("/") == SERVICES["postgres"]["environment"]["POSTGRES_DB"]
    assert (redis.scheme, redis.hostname) == ("redis", "redis")
    assert s3.hostname == "minio"
    assert env["AWS_SECRET_ACCESS_KEY"] == REQUIRED["MINIO_ROOT_PASSWORD"]
    assert (Path(env["EXPERIMENT"]) / "experiment.py").is_file()    # the mounted experiment folder
    # Every variable handed to the container is one Chorus (or a library it uses) reads.
    sources = "\n".join(p.read_text() for p in (ROOT / "config").glob("*.py"))
    for variable in env:
        assert f'"{variable}"' in sources or variable in READ_BY_LIBRARIES, (
            f"{name}: {variable} is set but nothing reads it")


def test_required_variables_are_listed_in_env_example():
    text = (ROOT / "docker-compose.yml").read_text()
    required = {m.group(1) for m in VARIABLE.finditer(text) if (m.group(2) or "").endswith("?")}
    assert required == set(REQUIRED)
    example = (ROOT / ".env.example").read_text()
    assert all(re.search(rf"^{name}=", example, re.M) for name in required)


def test_commands_name_modules_and_commands_that_exist():
    from celery import Celery
    from celery.app.utils import find_app
    from django.core.management import get_commands

    import config

    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD\s+(\[.*\])\s*$", dockerfile, re.M)
    argvs = {name: command(svc) for name, svc in CHORUS.items()}
    argvs["Dockerfile CMD"] = yaml.safe_load(cmd.group(1))
    for name, argv in argvs.items():
        if argv[0] == "gunicorn":
            target = next(a for a in argv[1:] if re.fullmatch(r"[\w.]+:\w+", a))
            module, attribute = target.split(":")
            assert callable(getattr(importlib.import_module(module), attribute)), name
        elif argv[0] == "celery":
            app = find_app(argv[argv.index("-A") + 1])
            assert isinstance(app, Celery) and app is config.celery_app, name
            assert argv[argv.index("-A") + 2] in ("worker", "beat"), name
        elif argv[:2] == ["python", "manage.py"]:
            assert (ROOT / "manage.py").is_file()
            assert argv[2] in get_commands(), name
        else:
            pytest.fail(f"{name}: unexpected command {argv}")


@pytest.mark.parametrize("name", sorted(CHORUS))
def test_each_command_starts_under_production_settings(name, tmp_path):
    """Run the service's own argv (gunicorn loads the app and exits; others parse and show help),
    so a misspelled option, a missing module or settings that refuse to load fail here."""
    argv = command(CHORUS[name])
    if argv[0] == "gunicorn":
        argv = [argv[0], "--check-config", *argv[1:]]
    else:
        argv = [*argv, "--help"]
    result = run_in_service_env(CHORUS[name], argv, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_build_step_collects_static_files(tmp_path):
    """The Dockerfile's collectstatic (production's manifest storage) succeeds on this tree: a
    static file referring to a missing one would break the image build, and pages in production."""
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    step = re.search(r"&&\s*((?:\w+=\S+\s+)+python manage\.py collectstatic[^&\n]*)", dockerfile)
    assert step, "the Dockerfile should run collectstatic at build time"
    words = shlex.split(step.group(1))
    assignments = dict(w.split("=", 1) for w in words if re.fullmatch(r"\w+=\S*", w))
    argv = words[len(assignments):]
    image_env = dict(re.findall(r"(\w+)=(\S+)", re.search(r"^ENV ((?:.|\n)*?)\n\n", dockerfile, re.M).group(1)))
    service = {"environment": {**image_env, **assignments}}
    result = run_in_service_env(service, argv, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "var" / "staticfiles" / "staticfiles.json").is_file()
