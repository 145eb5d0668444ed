"""The Berka (PKDD'99) Czech bank data as bankcrm import files.

Berka holds real, anonymised clients, accounts, loans and cards, but no names or Chinese
identifiers. The conversion keeps what is real (birth dates and sex from `birth_number`,
account opening dates, balances from the transaction history, loan amounts, terms and
repayment status, card types and issue dates, the CZK currency) and derives, deterministically,
what a Chinese bank's file would also hold: a name, and a resident ID number whose birth
date and sex digits agree with the client's. Credit: "PKDD'99 Discovery Challenge, Berka".
"""

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.db import models
from stdnum import luhn
from stdnum.cn import ric

from customers.demo import GIVEN, SURNAMES

# Resident ID region codes valid for births back to 1900 (python-stdnum's table).
AREAS = ["110101", "310101", "120101"]
AS_OF = date(1998, 12, 31)  # the end of the data set
CARD_LIMITS = {"junior": Decimal("5000"), "classic": Decimal("20000"), "gold": Decimal("100000")}


def _read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _yymmdd(value: str) -> date:
    value = value.strip()[:6]
    return date(1900 + int(value[:2]), int(value[2:4]), int(value[4:6]))


def birth(birth_number: str) -> tuple[date, str]:
    """Birth date and sex from a Berka birth_number (YYMMDD, month + 50 for women)."""
    month = int(birth_number[2:4])
    sex = "F" if month > 50 else "M"
    return date(1900 + int(birth_number[:2]), month - 50 if sex == "F" else month,
                int(birth_number[4:6])), sex  # fmt: skip


def _national_id(client_id: int, born: date, sex: str, used: set[str]) -> str:
    area = AREAS[client_id % len(AREAS)]
    for attempt in range(500):
        order = (client_id * 7 + attempt) % 500 * 2 + (1 if sex == "M" else 0)
        body = f"{area}{born:%Y%m%d}{order:03d}"
        number = body + ric.calc_check_digit(body + "0")
        if number not in used:
            used.add(number)
            return number
    raise ValueError(f"no free ID number for client {client_id}")


def _name(client_id: int, sex: str) -> tuple[str, str]:
    surname, surname_latin = SURNAMES[client_id % len(SURNAMES)]
    given = GIVEN[sex]
    first, first_latin = given[(client_id // 7) % len(given)]
    second, second_latin = given[(client_id // 131) % len(given)]
    return surname + first + second, f"{surname_latin.upper()} {first_latin.title()}{second_latin}"


def _months_between(start: date, end: date) -> int:
    return max(0, (end.year - start.year) * 12 + end.month - start.month)


def _add_months(start: date, months: int) -> date:
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, min(start.day, 28))


def write_import_files(
    source: Path, target: Path, *, branch_code: str, rm_username: str = ""
) -> tuple[Path, Path, dict]:
    """Write customers.csv and holdings.csv under `target`; returns their paths and counts."""
    source, target = Path(source), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    clients = _read(source / "client.asc")
    owners = {d["account_id"]: d["client_id"] for d in _read(source / "disp.asc")
              if d["type"] == "OWNER"}  # fmt: skip
    disp_client = {d["disp_id"]: d["client_id"] for d in _read(source / "disp.asc")}
    balances: dict[str, tuple[tuple, str]] = {}
    for t in _read(source / "trans.asc"):
        key = (t["date"], int(t["trans_id"]))
        if t["account_id"] not in balances or key > balances[t["account_id"]][0]:
            balances[t["account_id"]] = (key, t["balance"])

    used: set[str] = set()
    customers_path = target / "customers.csv"
    with customers_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cif", "kind", "name", "name_latin", "gender", "birth_date",
                         "national_id", "branch_code", "rm_username", "lifecycle", "tier",
                         "tags"])  # fmt: skip
        for c in clients:
            client_id = int(c["client_id"])
            born, sex = birth(c["birth_number"])
            name, latin = _name(client_id, sex)
            writer.writerow([
                cif(client_id), "individual", name, latin, sex, born.isoformat(),
                _national_id(client_id, born, sex, used), branch_code, rm_username, "active",
                "mass", f"berka;district-{c['district_id']}",
            ])  # fmt: skip

    holdings_path = target / "holdings.csv"
    counts = {"customers": len(clients), "accounts": 0, "loans": 0, "cards": 0}
    with holdings_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cif", "kind", "number", "product_name", "currency", "balance",
                         "principal", "credit_limit", "overdue_days", "opened_on",
                         "matures_on", "status"])  # fmt: skip
        for a in _read(source / "account.asc"):
            balance = Decimal(balances.get(a["account_id"], (None, "0"))[1] or "0")
            writer.writerow([
                cif(int(owners[a["account_id"]])), "current", account_number(int(a["account_id"])),
                f"Current account ({a['frequency'].title()})", "CZK", max(balance, Decimal(0)),
                "", "", 0, _yymmdd(a["date"]).isoformat(), "", "active",
            ])  # fmt: skip
            counts["accounts"] += 1
        for loan in _read(source / "loan.asc"):
            start = _yymmdd(loan["date"])
            principal = Decimal(loan["amount"])
            duration = int(loan["duration"])
            paid_months = min(duration, _months_between(start, AS_OF))
            outstanding = max(Decimal(0), principal - Decimal(loan["payments"]) * paid_months)
            if loan["status"] == "A":
                outstanding = Decimal(0)
            overdue = {"B": 90, "D": 60}.get(loan["status"], 0)
            writer.writerow([
                cif(int(owners[loan["account_id"]])), "loan", f"7{int(loan['loan_id']):011d}",
                f"Loan {duration} months", "CZK", outstanding.quantize(Decimal("0.01")),
                principal, "", overdue, start.isoformat(),
                _add_months(start, duration).isoformat(),
                "closed" if loan["status"] == "A" else "active",
            ])  # fmt: skip
            counts["loans"] += 1
        for card in _read(source / "card.asc"):
            body = f"62{int(card['card_id']):013d}"
            writer.writerow([
                cif(int(disp_client[card["disp_id"]])), "card", body + luhn.calc_check_digit(body),
                f"{card['type'].title()} card", "CZK", "0.00", "", CARD_LIMITS[card["type"]], 0,
                _yymmdd(card["issued"]).isoformat(), "", "active",
            ])  # fmt: skip
            counts["cards"] += 1
    return customers_path, holdings_path, counts


def cif(client_id: int) -> str:
    return f"BK{client_id:08d}"


def account_number(account_id: int) -> str:
    return f"6230{account_id:011d}"


# ---- the transactions, through the integration inbox --------------------------------------

SOURCE = "berka"


def map_identities() -> int:
    """Berka's client ids as the `berka` source's keys of the imported customers."""
    from customers.models import Customer, ExternalIdentity

    customers = Customer.objects.filter(cif__startswith="BK").values_list("pk", "cif")
    before = ExternalIdentity.objects.filter(source=SOURCE).count()
    ExternalIdentity.objects.bulk_create(
        [
            ExternalIdentity(source=SOURCE, external_id=str(int(cif[2:])), customer_id=pk)
            for pk, cif in customers
        ],
        ignore_conflicts=True,
    )
    return ExternalIdentity.objects.filter(source=SOURCE).count() - before


def load_transactions(folder: Path, *, limit: int | None = None, chunk: int = 1000,
                      progress=None) -> dict:  # fmt: skip
    """The Berka transactions (in booking order, up to `limit`) as core banking would push
    them: through inbox_store and the workers' mapping (account number → account by blind
    index, balance from the latest event), by event id, so a second load changes nothing.
    They arrive from the `berka` source, which the API refuses (it is for this load only)."""
    from itertools import islice

    from customers import simulator
    from customers.ingest.services import inbox_process, inbox_store, source_advance_cursor
    from customers.models.integration import InboxEvent, IntegrationSource

    source, _ = IntegrationSource.objects.get_or_create(
        code=SOURCE,
        defaults={"name": "Berka (historical load)", "kind": "core_banking", "enabled": False,
                  "time_zone": "Europe/Prague"},
    )  # fmt: skip
    counts = {"events": 0, "stored": 0, "rejected": 0}
    pending: list[dict] = []

    def store() -> None:
        outcomes = inbox_store(source=source, events=pending)
        counts["stored"] += sum(o.accepted for o in outcomes)
        counts["rejected"] += sum(not o.accepted for o in outcomes)
        pending.clear()
        while inbox_process(limit=2000):
            pass
        if progress:
            progress(f"{counts['events']:,} transactions loaded")

    events = simulator.berka_events(folder)
    for sequence, (type_, data, occurred) in enumerate(islice(events, limit), 1):
        pending.append({"event_id": data["transaction_id"], "sequence": sequence, "type": type_,
                        "occurred_at": occurred.isoformat(), "data": data})  # fmt: skip
        counts["events"] += 1
        if len(pending) == chunk:
            store()
    if pending:
        store()
    source_advance_cursor(source=source)
    by_status = dict(
        InboxEvent.objects.filter(source=source)
        .values_list("status")
        .annotate(n=models.Count("pk"))
        .values_list("status", "n")
    )
    return {**counts, **{f"inbox_{status}": n for status, n in by_status.items()}}
