"""Run a command with DATABASE_URL / REDIS_URL pointing at working servers.

Variables already set are used as they are; otherwise the embedded PostgreSQL and Redis
under .data/ are started (or reused). Used by `make test` and friends.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import devservices  # noqa: E402


def service_env() -> tuple[dict[str, str], bool]:
    """The environment for the command, and whether we started servers that were down."""
    env = dict(os.environ)
    need_db = not env.get("DATABASE_URL")
    need_redis = not env.get("REDIS_URL")
    started = False
    if need_db or need_redis:
        layout = devservices.Layout.from_env()
        started = (need_db and not devservices.postgres_running(layout)) or (
            need_redis and not devservices.redis_running(layout)
        )
        env.update(devservices.ensure_services(need_db=need_db, need_redis=need_redis))
    return env, started


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: with_services.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    try:
        env, started = service_env()
    except Exception as exc:  # a clear line beats a traceback in make's output
        print(f"could not start the local services: {exc}", file=sys.stderr)
        return 1
    try:
        return subprocess.call(argv, cwd=ROOT, env=env)
    finally:
        # Leave the machine as we found it; KEEP_SERVICES=1 keeps them for quick re-runs.
        if started and not os.environ.get("KEEP_SERVICES"):
            devservices.stop_services()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
