"""A core-banking system played for demos, tests and benchmarks (simulate_core_banking).

It produces events, keeps each in its own journal (SQLite, as a source system keeps its
outbound log) with a per-source sequence number, pushes them to bankcrm signed, and serves the
journal as the feed bankcrm resyncs from. It can also lose deliveries (an outage: events are
produced and journaled, not delivered), deliver twice and deliver out of order.

Nothing here imports Django: it talks to bankcrm over HTTP only, as a real source would.
"""

from __future__ import annotations

import csv
import http.client
import json
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from stdnum import luhn

from customers.ingest import signing

SHANGHAI = ZoneInfo("Asia/Shanghai")


# ---- the journal --------------------------------------------------------------------------


class Journal:
    """The source's record of every event it produced, by sequence (thread-safe)."""

    def __init__(self, path: str | Path = ":memory:"):
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # WAL without an fsync per commit: safe against a crash of the simulator (only a
        # power cut could lose the latest events); an fsync per append held back the pusher.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS events (sequence INTEGER PRIMARY KEY, body TEXT NOT NULL)"
        )
        self.lock = threading.Lock()

    def append(self, prefix: str, items: list[tuple[str, dict, datetime]]) -> list[dict]:
        """Number and record events (type, data, occurred_at); returns them."""
        with self.lock:
            (last,) = self.conn.execute("SELECT coalesce(max(sequence), 0) FROM events").fetchone()
            events = []
            for offset, (type_, data, occurred) in enumerate(items, 1):
                sequence = last + offset
                events.append(
                    {
                        "event_id": f"{prefix}-{sequence:012d}",
                        "sequence": sequence,
                        "type": type_,
                        "occurred_at": occurred.isoformat(),
                        "data": data,
                    }
                )
            self._insert(events)
        return events

    def extend(self, events: list[dict]) -> None:
        """Record events numbered elsewhere (a test's, say)."""
        with self.lock:
            self._insert(events)

    def _insert(self, events: list[dict]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany(
            "INSERT INTO events VALUES (?, ?)",
            [(e["sequence"], json.dumps(e, ensure_ascii=False)) for e in events],
        )
        self.conn.execute("COMMIT")

    def after(self, sequence: int, limit: int) -> list[dict]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT body FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?",
                (sequence, limit),
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def count(self) -> int:
        with self.lock:
            return self.conn.execute("SELECT count(*) FROM events").fetchone()[0]


# ---- the feed -----------------------------------------------------------------------------


class Feed:
    """Serves the journal at http://127.0.0.1:<port>/feed?after=N&limit=M, checking bankcrm's
    signature and signing its answers (customers/ingest/resync.py is the other side)."""

    def __init__(self, journal: Journal, source: str, secret: str, port: int = 0):
        self.journal, self.source, self.secret = journal, source, secret
        self.requests: list[int] = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = urlsplit(self.path).query
                try:
                    stamp = self.headers.get(signing.TIMESTAMP_HEADER)
                    signing.check_timestamp(stamp)
                    signing.verify(
                        [feed.secret], feed.source, stamp, query.encode(),
                        self.headers.get(signing.SIGNATURE_HEADER),
                    )  # fmt: skip
                    params = parse_qs(query)
                    after, limit = int(params["after"][0]), min(int(params["limit"][0]), 5000)
                except (signing.SignatureError, KeyError, ValueError):
                    self.send_response(401)
                    self.end_headers()
                    return
                feed.requests.append(after)
                body = json.dumps({"events": feed.journal.after(after, limit)}).encode()
                self.send_response(200)
                for name, value in signing.headers(feed.secret, feed.source, body).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/feed"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- what happens at the bank -------------------------------------------------------------

# (kind as core banking describes it, channel, direction, typical amount in CNY)
TRANSACTION_MIX = [
    ("刷卡消费", "pos", "debit", 180),
    ("工资", "transfer", "credit", 9000),
    ("转账支出", "mobile", "debit", 1500),
    ("转账收入", "mobile", "credit", 1200),
    ("取现", "atm", "debit", 800),
    ("网购", "online", "debit", 260),
    ("生活缴费", "online", "debit", 230),
    ("柜面存款", "branch", "credit", 5000),
]
MERCHANTS = ["美团外卖", "京东商城", "中国石化", "星巴克", "国家电网", "滴滴出行", "盒马鲜生"]


# Findings of the outside world about a customer, as core banking passes them on
# (`risk.signal`): the kind's code in bankcrm, who found it, the severity, sample evidence.
# Plain JSON: the kinds are compliance's (Compliance › Risk warning kinds), not imported.
RISK_SIGNALS = [
    ("credit_bureau_overdue", "人民银行征信中心", "warning",
     {"overdue_amount": "12800.00", "overdue_months": 2, "lender": "他行信用卡"}),
    ("court_enforcement", "中国执行信息公开网", "severe",
     {"case_no": "(2026)沪0115执1234号", "amount": "356000.00", "court": "上海市浦东新区人民法院"}),
    ("litigation", "中国裁判文书网", "warning",
     {"case_no": "(2026)沪0104民初5678号", "cause": "民间借贷纠纷", "role": "被告"}),
    ("negative_news", "舆情监测", "info",
     {"headline": "某公司法定代表人涉嫌非法集资", "media": "财经网"}),
    ("regulator_blacklist", "监管通报", "severe",
     {"list": "反洗钱高风险名单", "notice": "银保监通报〔2026〕12号"}),
]  # fmt: skip


def core_customer_ref(i: int) -> str:
    """Demo customer i's key in core banking (customers.demo seeds the same keys)."""
    return f"C{i:010d}"


def app_user_id(i: int) -> str:
    """Demo customer i's user id in the mobile app."""
    return f"U{i:010d}"


def current_account_number(i: int) -> str:
    """Demo customer i's first account, a current account (customers.demo seeds it)."""
    digits = f"621700{i:09d}00"
    return digits + luhn.calc_check_digit(digits)


@dataclass
class Generator:
    """Realistic events for the demo customers 0 … customers-1."""

    customers: int
    seed: int = 7
    master_share: float = 0.01  # customer.updated among the events
    risk_share: float = 0.0  # risk.signal among the events
    rng: random.Random = field(init=False)

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self.counter = 0

    def next(self, now: datetime | None = None) -> tuple[str, dict, datetime]:
        now = now or datetime.now(SHANGHAI)
        rng = self.rng
        i = rng.randrange(self.customers)
        self.counter += 1
        if self.risk_share and rng.random() < self.risk_share:
            kind, found_by, severity, evidence = rng.choice(RISK_SIGNALS)
            data = {
                "customer_ref": core_customer_ref(i),
                "signal_id": f"RS{now:%Y%m%d}{self.seed:02d}{self.counter:010d}",
                "kind": kind,
                "severity": severity,
                "source": found_by,
                "evidence": evidence,
            }
            return "risk.signal", data, now
        if rng.random() < self.master_share:
            data = {
                "customer_ref": core_customer_ref(i),
                "mobile": f"+86139{rng.randrange(10**8):08d}",
                "email": f"c{i}@example.cn",
                "address": f"上海市浦东新区世纪大道{rng.randrange(1, 2000)}号",
            }
            return "customer.updated", data, now
        kind, channel, direction, typical = rng.choice(TRANSACTION_MIX)
        amount = Decimal(str(round(rng.lognormvariate(0, 0.8) * typical, 2))).quantize(
            Decimal("0.01")
        )
        data = {
            "account_number": current_account_number(i),
            "transaction_id": f"T{now:%Y%m%d}{self.seed:02d}{self.counter:010d}",
            "amount": str(max(amount, Decimal("0.01"))),
            "currency": "CNY",
            "direction": direction,
            "channel": channel,
            "kind": kind,
        }
        if channel in ("pos", "online"):
            data["counterparty"] = rng.choice(MERCHANTS)
        return "transaction.posted", data, now


def berka_events(folder: str | Path) -> Iterator[tuple[str, dict, datetime]]:
    """The Berka transactions (trans.asc) in booking order, on the accounts the Berka import
    creates (customers.berka.account_number), in CZK with the balance after each."""
    # Berka's Czech operation and purpose codes, described as a Chinese core system would.
    operations = {
        "VKLAD": ("现金存入", "branch"),
        "VYBER": ("取现", "atm"),
        "VYBER KARTOU": ("刷卡取现", "atm"),
        "PREVOD Z UCTU": ("转账收入", "transfer"),
        "PREVOD NA UCET": ("转账支出", "transfer"),
        "": ("利息", "branch"),
    }
    purposes = {
        "POJISTNE": "保险费", "SLUZBY": "账户服务费", "UROK": "利息", "SANKC. UROK": "罚息",
        "SIPO": "生活缴费", "DUCHOD": "养老金", "UVER": "贷款还款",
    }  # fmt: skip
    with (Path(folder) / "trans.asc").open(newline="", encoding="utf-8") as handle:
        rows = sorted(
            csv.DictReader(handle, delimiter=";"), key=lambda r: (r["date"], int(r["trans_id"]))
        )
    for row in rows:
        booked = date(1900 + int(row["date"][:2]), int(row["date"][2:4]), int(row["date"][4:6]))
        kind, channel = operations.get(row["operation"], ("other", "branch"))
        data = {
            "account_number": f"6230{int(row['account_id']):011d}",
            "transaction_id": f"BERKA-{row['trans_id']}",
            "amount": f"{Decimal(row['amount']):.2f}",
            "currency": "CZK",
            "direction": "credit" if row["type"] == "PRIJEM" else "debit",
            "channel": channel,
            "kind": purposes.get(row["k_symbol"].strip(), kind),
            "balance_after": f"{Decimal(row['balance']):.2f}",
        }
        if row["account"]:
            data["counterparty"] = f"{row['bank']}/{row['account']}"
        if Decimal(row["amount"]) <= 0:
            continue
        yield "transaction.posted", data, datetime.combine(booked, datetime.min.time(), UTC)


# ---- delivery -----------------------------------------------------------------------------


@dataclass
class Stats:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0  # not delivered (outage, connection errors)
    latencies: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int | None, seconds: float, events: int, accepted: int) -> None:
        with self.lock:
            self.sent += events
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status is None:
                self.failed += events
                return
            self.latencies.append(seconds)
            self.accepted += accepted
            self.rejected += events - accepted

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] * 1000


class Sender:
    """One keep-alive connection to bankcrm that signs what it sends. It is renewed every
    REUSE requests, as client pools do: a connection stays with the server process that
    accepted it, so without renewal one process can end up with every client (after the
    other was recycled, say) while the other idles."""

    REUSE = 500

    def __init__(self, base_url: str, source: str, secret: str, timeout: float = 10):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.source, self.secret, self.timeout = source, secret, timeout
        self.conn = None
        self.uses = 0

    def post(self, path: str, payload) -> tuple[int | None, dict | None]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "Host": self.host,
            **signing.headers(self.secret, self.source, body),
        }
        self.uses += 1
        if self.conn is not None and self.uses % self.REUSE == 0:
            self.conn.close()
            self.conn = None
        for attempt in range(2):  # once more on a stale keep-alive connection
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(
                        self.host, self.port, timeout=self.timeout
                    )
                self.conn.request("POST", path, body, headers)
                response = self.conn.getresponse()
                data = response.read()
                return response.status, json.loads(data) if data else None
            except (OSError, http.client.HTTPException, ValueError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt:
                    return None, None
        return None, None


@dataclass
class Plan:
    """How events are delivered: rate (events/s; 0 = as fast as possible), duration or count,
    batch size (0 = one event per request), faults."""

    rate: float = 100
    seconds: float = 10
    count: int | None = None
    batch: int = 0
    threads: int = 8
    duplicates: float = 0.0  # share of deliveries sent a second time
    reorder: int = 0  # shuffle within windows of this many events
    outage_at: float | None = None  # seconds after the start
    outage_for: float = 0.0


def run(plan: Plan, *, journal: Journal, events: Iterator, base_url: str, source: str,
        secret: str, prefix: str | None = None, progress=None) -> Stats:  # fmt: skip
    """Produce events at the plan's rate, journal them, deliver them (or not, in an outage).
    Open loop: production does not wait for delivery."""
    import queue

    stats = Stats()
    prefix = prefix or source
    work: queue.Queue = queue.Queue(maxsize=10_000)
    path = "/api/v1/events/batch" if plan.batch else "/api/v1/events"
    start = time.monotonic()
    rng = random.Random(11)

    def in_outage(now: float) -> bool:
        return plan.outage_at is not None and (
            plan.outage_at <= now - start < plan.outage_at + plan.outage_for
        )

    def deliver():
        sender = Sender(base_url, source, secret)
        while (item := work.get()) is not None:
            chunk = item
            if in_outage(time.monotonic()):
                stats.record(None, 0, len(chunk), 0)  # produced, journaled, never delivered
                continue
            payload = {"events": chunk} if plan.batch else chunk[0]
            t0 = time.perf_counter()
            status, body = sender.post(path, payload)
            elapsed = time.perf_counter() - t0
            if plan.batch and status == 200:
                accepted = body["accepted"]
            else:
                accepted = len(chunk) if status == 202 else 0
            stats.record(status, elapsed, len(chunk), accepted)

    workers = [threading.Thread(target=deliver, daemon=True) for _ in range(plan.threads)]
    for w in workers:
        w.start()
    size = plan.batch or 1
    produced = 0
    pending: list[dict] = []
    next_report = start + 5
    try:
        while True:
            now = time.monotonic()
            if plan.count is not None and produced >= plan.count:
                break
            if plan.count is None and now - start >= plan.seconds:
                break
            due = int((now - start) * plan.rate) + size if plan.rate else produced + size
            want = min(due - produced, size * 4)
            if plan.count is not None:
                want = min(want, plan.count - produced)
            if want <= 0:
                time.sleep(min(0.002, size / plan.rate))
                continue
            items = []
            for _ in range(want):
                item = next(events, None)
                if item is None:
                    break
                items.append(item)
            if not items:
                break
            produced += len(items)
            pending.extend(journal.append(prefix, items))
            if plan.reorder and len(pending) < plan.reorder:
                continue
            if plan.reorder:
                rng.shuffle(pending)
            while len(pending) >= size or (pending and not plan.reorder):
                chunk, pending = pending[:size], pending[size:]
                work.put(chunk)
                if plan.duplicates and rng.random() < plan.duplicates:
                    work.put(list(chunk))
            if progress and now >= next_report:
                progress(f"{produced:,} produced, {stats.accepted:,} accepted")
                next_report = now + 5
        if pending:
            for i in range(0, len(pending), size):
                work.put(pending[i : i + size])
    finally:
        for _ in workers:
            work.put(None)
        for w in workers:
            w.join()
    stats.produced = produced
    stats.elapsed = time.monotonic() - start
    return stats


def deliver_journal(journal: Journal, *, after: int, batch: int, threads: int, base_url: str,
                    source: str, secret: str) -> Stats:  # fmt: skip
    """Deliver what the journal holds after `after`, in batches, flat out: the clock runs
    for delivery only (producing was done beforehand)."""
    import queue

    stats = Stats()
    work: queue.Queue = queue.Queue()
    while chunk := journal.after(after, batch):
        work.put(chunk)
        after = chunk[-1]["sequence"]

    def deliver():
        sender = Sender(base_url, source, secret)
        while True:
            try:
                chunk = work.get_nowait()
            except queue.Empty:
                return
            t0 = time.perf_counter()
            status, body = sender.post("/api/v1/events/batch", {"events": chunk})
            accepted = body["accepted"] if status == 200 else 0
            stats.record(status, time.perf_counter() - t0, len(chunk), accepted)

    start = time.monotonic()
    workers = [threading.Thread(target=deliver, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stats.produced = stats.sent
    stats.elapsed = time.monotonic() - start
    return stats


def days_ago(n: int) -> datetime:
    return datetime.now(SHANGHAI) - timedelta(days=n)
