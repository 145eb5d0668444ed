"""docker compose cannot run here: check what can be checked about the deployment files."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = ["migrate", "web", "worker", "beat"]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def documented_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def test_compose_runs_every_process_from_one_image_with_health_checks():
    services = compose()["services"]
    assert {"postgres", "redis", *APP_SERVICES} <= set(services)
    builds = {(services[name].get("build"), services[name].get("image")) for name in APP_SERVICES}
    assert builds == {(".", "bankcrm:latest")}
    for name in ["postgres", "redis", "web", "worker", "beat"]:
        assert "test" in services[name]["healthcheck"], name
    for name in ["web", "worker", "beat"]:
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert services[name]["env_file"] == ".env"
    assert set(compose()["volumes"]) == {"postgres-data", "redis-data"}
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_every_variable_compose_needs_is_documented():
    text = (ROOT / "docker-compose.yml").read_text()
    needed = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    assert needed <= documented_variables()


def test_every_setting_read_from_the_environment_is_documented():
    settings_text = (ROOT / "bankcrm" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', settings_text))
    read |= set(re.findall(r'_secret\(\s*"([A-Z0-9_]+)"', settings_text))
    read -= {"BANKCRM_TESTING", "DATABASE_POOL", "DATABASE_POOL_MIN_SIZE",
             "CELERY_BEAT_SCHEDULE_FILENAME"}  # fmt: skip
    docs = (ROOT / "README.md").read_text() + (ROOT / "docs" / "operations.md").read_text()
    missing = {name for name in read if name not in documented_variables() and name not in docs}
    assert not missing


def test_dockerfile_runs_as_non_root_with_a_health_check():
    text = (ROOT / "Dockerfile").read_text()
    user = re.search(r"^USER (\S+)", text, re.MULTILINE)
    assert user and user.group(1) not in {"root", "0"}
    assert "HEALTHCHECK" in text
    assert "requirements/base.txt" in text


def test_dockerfile_build_settings_are_accepted_by_django():
    """The throwaway variables collectstatic runs with must pass the settings' checks."""
    text = (ROOT / "Dockerfile").read_text()
    block = text.split("RUN DJANGO_DEBUG=false", 1)[1].split("python manage.py", 1)[0]
    env = dict(re.findall(r"([A-Z_]+)=(\S+)", "DJANGO_DEBUG=false " + block))
    env["PATH"] = "/usr/bin:/bin"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
