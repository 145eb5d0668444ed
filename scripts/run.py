"""`make run` / `make dev`: migrate, load demo data once, then gunicorn + Celery worker + beat.

    python scripts/run.py            # production settings (DEBUG off) on plain http
    python scripts/run.py --debug    # the same with DJANGO_DEBUG=true, for developers
    python scripts/run.py manage ARGS...   # a manage.py command in the same environment

`make run` shows a newcomer what production shows: DEBUG off (a 404 is the project's page,
not Django's list of every URL pattern), its own keys, hosts limited to this machine. Only
what plain http on localhost needs differs from production: no redirect to https, no
Secure cookies, no HSTS. The keys are made on the first run and kept in the data folder
(.data/secrets.json, readable by its owner only), so the demo data stays readable from one
run to the next and under `make dev`.

Ctrl-C (or SIGTERM) stops the three processes and the embedded services this run started.
"""

import base64
import json
import os
import secrets
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
    ("products", "product_manager (staff: TOTP enrolment at first sign-in)"),
    ("marketing", "marketing_manager (TOTP enrolment at first sign-in)"),
    ("admin", "admin (TOTP enrolment at first sign-in)"),
]
SECRET_NAMES = ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY")
# The fixed development keys that settings.py gave `make run` before it had keys of its own
# (it ran with DEBUG on): a demo database made then stays readable.
LEGACY_KEYS = {
    "FIELD_ENCRYPTION_KEYS": "1:ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMDE=",
    "BLIND_INDEX_KEY": "ZGV2LW9ubHktYmxpbmQtaW5kZXgtaG1hYy1rZXktMDE=",
}


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _has_demo_data(database_url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            if conn.execute("SELECT to_regclass('customers_customer')").fetchone()[0] is None:
                return False
            return conn.execute("SELECT EXISTS (SELECT FROM customers_customer)").fetchone()[0]
    except psycopg.Error:
        return False


def dev_secrets(data_dir: Path, database_url: str) -> dict[str, str]:
    """The demo's keys, made once per data folder and kept there."""
    path = data_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": f"1:{_key()}",
        "BLIND_INDEX_KEY": _key(),
    }
    if _has_demo_data(database_url):
        values.update(LEGACY_KEYS)
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle, indent=2)
    return values


def demo_environment(base: dict[str, str], *, debug: bool, data_dir: Path) -> dict[str, str]:
    """The environment of `make run` (debug=False) or `make dev` (debug=True), given one
    where DATABASE_URL and REDIS_URL are set. Values already in `base` win, except
    DJANGO_DEBUG, which the target decides."""
    env = dict(base)
    port = env.get("BANKCRM_PORT", "8000")
    for name, value in dev_secrets(data_dir, env["DATABASE_URL"]).items():
        env.setdefault(name, value)
    env["DJANGO_DEBUG"] = "true" if debug else "false"
    env.setdefault("DJANGO_SETTINGS_MODULE", "bankcrm.settings")
    env.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
    env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    # Plain http on this machine: no https redirect, no Secure cookies, no HSTS, no proxy.
    env.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    env.setdefault("DJANGO_SECURE_COOKIES", "false")
    env.setdefault("DJANGO_SECURE_HSTS_SECONDS", "0")
    env.setdefault("DJANGO_TRUST_X_FORWARDED_PROTO", "false")
    env.setdefault("DJANGO_LOG_JSON", "false")
    env.setdefault("CELERY_BEAT_SCHEDULE_FILENAME", str(data_dir / "celerybeat-schedule"))
    return env


def prepare(debug: bool) -> tuple[dict[str, str], bool]:
    """Servers started or found, and the environment; whether this call started servers."""
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
    return demo_environment(env, debug=debug, data_dir=devservices.Layout.from_env().data), (
        started_services
    )


def manage_command(args: list[str]) -> int:
    """`make manage ARGS=…`: one manage.py command on `make run`'s database, Redis and keys
    (servers are started if need be, and left running)."""
    env, _started = prepare(debug=False)
    return subprocess.call([PYTHON, "manage.py", *args], cwd=ROOT, env=env)


def main(argv: list[str]) -> int:
    if argv[:1] == ["manage"]:
        return manage_command(argv[1:])
    debug = "--debug" in argv
    env, started_services = prepare(debug)
    port = env.get("BANKCRM_PORT", "8000")

    def manage(*args: str) -> None:
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)

    collecting = None
    if not debug:
        # Hashed, compressed copies for WhiteNoise, as in production: CPU work beside the
        # database's, so it runs alongside the migrations and the demo load.
        step("collecting static files (alongside)")
        collecting = subprocess.Popen(
            [PYTHON, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env=env,
        )
    step("migrating")
    manage("migrate", "--noinput")
    step("loading demo data (skipped when present)")
    manage("seed_demo")
    if collecting is not None and collecting.wait() != 0:
        raise SystemExit("collectstatic failed")

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
            if name == "web":
                # The worker and beat start once the web answers: on two cores, starting
                # all three at once held the first page back by seconds.
                wait_for_web(port, processes[name])
        banner(port, debug)
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


def wait_for_web(port: str, process: subprocess.Popen, seconds: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live/", timeout=2):
                return
        except OSError:
            time.sleep(0.3)


def banner(port: str, debug: bool) -> None:
    width = max(len(u) for u, _ in DEMO_USERS)
    mode = (
        "DEBUG on (make dev): Django's debug pages, never for others to reach"
        if debug
        else "production settings, DEBUG off, plain http on this machine (make dev: DEBUG)"
    )
    lines = [
        "",
        f"bankcrm is running at http://127.0.0.1:{port}/   (Ctrl-C stops everything)",
        f"  {mode}",
        f"health: http://127.0.0.1:{port}/health/",
        f"demo logins (password for all: {DEMO_PASSWORD}):",
        *[f"  {username.ljust(width)}  {role}" for username, role in DEMO_USERS],
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
