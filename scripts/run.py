"""`make run`: migrate, load demo data once, then gunicorn + Celery worker + beat together.

Ctrl-C (or SIGTERM) stops the three processes and the embedded services this run started.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import devservices  # noqa: E402

PYTHON = sys.executable
BIN = Path(PYTHON).parent
DEMO_PASSWORD = "Bankcrm-Demo-2026"  # noqa: S105 - printed for the demo users
DEMO_USERS = [
    ("rm", "relationship_manager"),
    ("rm2", "relationship_manager"),
    ("branch_manager", "branch_manager"),
    ("agent", "service_agent"),
    ("supervisor", "service_supervisor"),
    ("compliance", "compliance_officer (TOTP enrolment at first sign-in)"),
    ("admin", "admin (TOTP enrolment at first sign-in)"),
]


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def main() -> int:
    env = dict(os.environ)
    started_services = False
    need_db = not env.get("DATABASE_URL")
    need_redis = not env.get("REDIS_URL")
    if need_db or need_redis:
        step("starting embedded PostgreSQL / Redis under .data/")
        env.update(devservices.ensure_services(need_db=need_db, need_redis=need_redis))
        started_services = True
    else:
        step("using DATABASE_URL and REDIS_URL from the environment")
    env.setdefault("DJANGO_SETTINGS_MODULE", "bankcrm.settings")
    env.setdefault("DJANGO_DEBUG", "true")
    env.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    env.setdefault("DJANGO_LOG_JSON", "false")
    (ROOT / ".data").mkdir(exist_ok=True)
    env.setdefault("CELERY_BEAT_SCHEDULE_FILENAME", str(ROOT / ".data" / "celerybeat-schedule"))
    port = env.get("BANKCRM_PORT", "8000")

    def manage(*args: str) -> None:
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)

    step("migrating")
    manage("migrate", "--noinput")
    step("loading demo data (skipped when present)")
    manage("seed_demo")

    commands = {
        "web": [
            str(BIN / "gunicorn"),
            "bankcrm.wsgi:application",
            "--config",
            "bankcrm/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            env.get("GUNICORN_WORKERS", "2"),
        ],
        "worker": [
            str(BIN / "celery"), "-A", "bankcrm", "worker", "--loglevel", "INFO",
            "--concurrency", "2", "--hostname", "worker@%h",
        ],
        "beat": [
            str(BIN / "celery"), "-A", "bankcrm", "beat", "--loglevel", "INFO",
            "--schedule", env["CELERY_BEAT_SCHEDULE_FILENAME"],
        ],
    }  # fmt: skip
    processes: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for name, command in commands.items():
            step(f"starting {name}")
            processes[name] = subprocess.Popen(command, cwd=ROOT, env=env)
        time.sleep(2)
        banner(port)
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"!! {name} exited with {process.returncode}; stopping", flush=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        step("stopping web, worker and beat")
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        if started_services:
            step("stopping embedded PostgreSQL / Redis (data kept in .data/)")
            devservices.stop_services()
    return 0


def banner(port: str) -> None:
    width = max(len(u) for u, _ in DEMO_USERS)
    lines = [
        "",
        f"bankcrm is running at http://127.0.0.1:{port}/   (Ctrl-C stops everything)",
        f"health: http://127.0.0.1:{port}/health/",
        f"demo logins (password for all: {DEMO_PASSWORD}):",
        *[f"  {username.ljust(width)}  {role}" for username, role in DEMO_USERS],
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
