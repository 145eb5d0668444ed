"""Benchmark: what the web does while PostgreSQL restarts (issue 16, item 22).

    .venv/bin/python bench/db_outage.py [--outage 60] [--root PATH] [--data DIR] [--port 8791]

Starts an embedded PostgreSQL and Redis of its own under --data (scripts/devservices.py; a
system server is never touched), migrates, seeds a small demo (300 customers), collects
static files and serves --root (default: this checkout; another checkout measures older
code) with gunicorn, production settings (DEBUG off) on plain http. Signed in as the demo
RM, two clients ask for the home page (it reads the database) back to back and a probe asks
for /health/ every second, each request with a 120 s client timeout. After 10 s PostgreSQL
is stopped (pg_ctl stop -m fast), --outage seconds later started again, and the load goes
on until 20 s after the first good page (at most 150 s). Reported for the page and the
probe: the first failure after the stop (how long after, and how long it took to answer),
the answers during the outage (statuses, median and longest time), and the time from
PostgreSQL's start to the first good answer. Everything it started is stopped at the end.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import devservices  # noqa: E402

KEYS = {  # throwaway keys for the scratch database
    "DJANGO_SECRET_KEY": "bench-only-not-a-secret-0123456789-0123456789-0123456789",
    "FIELD_ENCRYPTION_KEYS": "1:YmVuY2gtb25seS1maWVsZC1rZXktMzItYnl0ZXMtMDE=",
    "BLIND_INDEX_KEY": "YmVuY2gtb25seS1ibGluZC1rZXktMzItYnl0ZXMtMDE=",
}


class Client:
    """One HTTP/1.1 connection per request; cookies kept by hand (Secure or not)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None, timeout=120.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Host": "localhost", "Cookie": "; ".join(f"{k}={v}" for k, v in
                                                         self.cookies.items())}  # fmt: skip
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers.update({"Content-Type": "application/x-www-form-urlencoded",
                            "Referer": "http://localhost/accounts/login/",
                            "Origin": "http://localhost"})  # fmt: skip
        try:
            conn.request(method, path, data, headers)
            response = conn.getresponse()
            content = response.read()
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name] = rest.split(";", 1)[0]
            return response.status, content
        finally:
            conn.close()

    def sign_in(self, username: str, password: str) -> None:
        _status, page = self.request("GET", "/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, _ = self.request("POST", "/accounts/login/", {
            "csrfmiddlewaretoken": token.decode(), "username": username, "password": password,
        })  # fmt: skip
        if status != 302:
            raise SystemExit(f"sign-in failed ({status})")


def drive(client: Client, path: str, log: list, stop: threading.Event, pause: float) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            status, _ = client.request("GET", path)
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
        log.append((started, time.monotonic() - started, status))
        time.sleep(max(0.0, pause - (time.monotonic() - started)))


def summary(name: str, log: list, stopped: float, started: float) -> dict:
    after_stop = [r for r in log if r[0] + r[1] >= stopped]
    failures = [r for r in after_stop if r[2] != 200]
    during = [r for r in log if stopped <= r[0] < started]
    good_after = [r for r in log if r[0] >= started and r[2] == 200]
    first_failure = min(failures, key=lambda r: r[0] + r[1]) if failures else None
    statuses: dict[str, int] = {}
    for r in during:
        statuses[str(r[2])] = statuses.get(str(r[2]), 0) + 1
    result = {"what": name, "answers during the outage": statuses}
    if first_failure:
        result["first failure after the stop (s)"] = round(sum(first_failure[:2]) - stopped, 1)
        result["its answer took (s)"] = round(first_failure[1], 1)
    if during:
        times = [r[1] for r in during]
        result["their time, median / longest (s)"] = [
            round(statistics.median(times), 1),
            round(max(times), 1),
        ]
    if good_after:
        first_good = min(r[0] + r[1] for r in good_after)
        result["first good answer after PostgreSQL started (s)"] = round(first_good - started, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=60)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve")
    parser.add_argument("--data", type=Path, default=ROOT / ".data" / "bench-outage")
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    root = args.root.resolve()

    services = devservices.ensure_services(data_dir=args.data)
    layout = devservices.Layout.from_env(args.data)
    env = {**os.environ, **services, **KEYS, "DJANGO_DEBUG": "false",
           "DJANGO_SETTINGS_MODULE": "bankcrm.settings",
           "DJANGO_ALLOWED_HOSTS": "localhost", "DJANGO_SECURE_SSL_REDIRECT": "false",
           "DJANGO_SECURE_COOKIES": "false", "DJANGO_TRUST_X_FORWARDED_PROTO": "false",
           "DJANGO_LOG_LEVEL": "WARNING", "GUNICORN_WORKERS": "2"}  # fmt: skip
    gunicorn = None
    try:
        for argv in (["migrate", "--noinput", "-v", "0"],
                     ["seed_demo", "--customers", "300", "-v", "0"],
                     ["collectstatic", "--noinput", "-v", "0"]):  # fmt: skip
            subprocess.run([sys.executable, "manage.py", *argv], cwd=root, env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        gunicorn = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "bankcrm.wsgi:application",
             "--config", "bankcrm/gunicorn.conf.py", "--bind", f"127.0.0.1:{args.port}",
             "--access-logfile", "/dev/null"],
            cwd=root, env=env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if Client(args.port).request("GET", "/health/live/", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.5)
        clients = [Client(args.port) for _ in range(2)]
        for client in clients:
            client.sign_in("rm", "Bankcrm-Demo-2026")
        page_log: list = []
        health_log: list = []
        stop = threading.Event()
        threads = [threading.Thread(target=drive, args=(c, "/", page_log, stop, 0.2))
                   for c in clients]  # fmt: skip
        threads.append(threading.Thread(target=drive,
                                        args=(Client(args.port), "/health/", health_log, stop,
                                              1.0)))  # fmt: skip
        for thread in threads:
            thread.start()
        time.sleep(10)
        print(f"stopping PostgreSQL for {args.outage:.0f} s", flush=True)
        stopped = time.monotonic()
        devservices.stop_postgres(layout)
        time.sleep(max(0.0, args.outage - (time.monotonic() - stopped)))
        print("starting PostgreSQL", flush=True)
        devservices.start_postgres(layout)
        started = time.monotonic()
        while time.monotonic() - started < 150:
            good = [r for r in page_log if r[0] >= started and r[2] == 200]
            if good and time.monotonic() - min(r[0] + r[1] for r in good) > 20:
                break
            time.sleep(1)
        stop.set()
        for thread in threads:
            thread.join(timeout=130)
        print(f"outage: {started - stopped:.1f} s")
        for name, log in (("home page", page_log), ("/health/", health_log)):
            print(json.dumps(summary(name, log, stopped, started), ensure_ascii=False))
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
        devservices.stop_services(args.data)
        shutil.rmtree(args.data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
