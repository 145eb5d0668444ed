"""Compliance's part of the demo (bankcrm.registry.DEMO_SEEDERS): access-anomaly rules, a
day of sensitive reads by the demo RM for the audit screens to show, risk warnings on a few
of the RM's customers and those the daily sweep raises; and how the demo's
bulk loads are recorded in the audit trail (bankcrm.registry.BULK_LOAD_RECORDERS).
Idempotent."""

from contextlib import contextmanager
from datetime import datetime, time, timedelta

from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.utils import timezone

from bankcrm.demo import DEMO_LABEL
from bankcrm.models import AccessLog
from bankcrm.roles import Role
from compliance.models import AccessRule, DataChange
from customers.models import Customer

FRONT_LINE = [Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.SERVICE_AGENT,
              Role.SERVICE_SUPERVISOR]  # fmt: skip
RULES = [
    {"name": "短时间内查看大量客户", "measure": AccessRule.Measure.CUSTOMERS,
     "actions": ["view", "reveal"], "threshold": 60, "window_minutes": 10, "roles": FRONT_LINE},
    {"name": "集中查看私人银行客户", "measure": AccessRule.Measure.CUSTOMERS, "min_tier": "private",
     "threshold": 15, "window_minutes": 10, "roles": FRONT_LINE, "freeze_account": True},
    {"name": "大量导出客户数据", "measure": AccessRule.Measure.EXPORTED_ROWS, "threshold": 5000,
     "window_minutes": 60, "roles": FRONT_LINE},
    {"name": "频繁按证件或手机号查找客户", "measure": AccessRule.Measure.LOOKUPS, "threshold": 40,
     "window_minutes": 10, "roles": FRONT_LINE},
    {"name": "多次访问非本人权限内的客户", "measure": AccessRule.Measure.REFUSALS, "threshold": 10,
     "window_minutes": 10, "roles": FRONT_LINE, "freeze_account": True},
]  # fmt: skip
DEMO_REQUEST = "demo-seed"
# The audited tables the demo loads in bulk (their row triggers: compliance/audited.py).
BULK_TABLES = (
    "customers_customer", "customers_account", "customers_externalidentity",
    "customers_interaction", "customers_riskprofile",
)  # fmt: skip


@contextmanager
def recorded_as_one_load(table: str, **detail):
    """The demo's COPY into `table` is recorded as ONE data change by `demo` (op I, row
    `first-last`, changes {"rows": [null, n], **detail}) instead of one per row.

    Why: the demo is the system seeding made-up customers, one act. Row by row it wrote
    340,000 creations (each a ~1 KB JSON diff, seven index entries and a hash-chain link at
    commit), two thirds of the load's time, and told nothing the one entry does not.

    How, without a gap anyone else could use: the row trigger is switched off with ALTER
    TABLE inside the seed's transaction. That takes the table's ACCESS EXCLUSIVE lock until
    the commit, so no other session writes (or reads) the table while the trigger is off,
    and the trigger is on again before the commit; a failure rolls the switch back with
    everything else. Only the tables' owner may do this (the application role of
    `grant_app_role` may not). The entry is chained like every audit row, so `verify_audit`
    holds; the other rows the seed writes (users, roles, consents, tickets, rules) go
    through the triggers one by one as any write does."""
    if table not in BULK_TABLES:
        raise ValueError(f"{table} is not one of the demo's bulk tables")
    if not connection.in_atomic_block:
        raise RuntimeError("a recorded bulk load must run inside the seed's transaction")
    trigger = f"{table}_audit"
    with connection.cursor() as cursor:
        try:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        except ProgrammingError as exc:
            raise PermissionError(
                f"seed_demo loads {table} in bulk and must run as the tables' owner "
                f"(the role that runs migrate): {exc}"
            ) from exc
        cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")  # noqa: S608 (fixed names)
        (before,) = cursor.fetchone()
    try:
        yield
    except BaseException:
        transaction.set_rollback(True)  # the switch must not outlive a failed load
        raise
    with connection.cursor() as cursor:
        # ALTER TABLE refuses while the load's deferred foreign-key checks are pending:
        # they run now instead of at the commit.
        cursor.execute(
            "SELECT string_agg(quote_ident(conname), ', ') FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f' AND condeferred",
            [table],
        )
        (foreign_keys,) = cursor.fetchone()
        if foreign_keys:
            cursor.execute(f"SET CONSTRAINTS {foreign_keys} IMMEDIATE")
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        if foreign_keys:
            cursor.execute(f"SET CONSTRAINTS {foreign_keys} DEFERRED")
        cursor.execute(
            f"SELECT count(*), min(id), max(id) FROM {table} WHERE id > %s",  # noqa: S608
            [before],
        )
        rows, first, last = cursor.fetchone()
    if rows:
        DataChange.objects.create(
            table_name=table,
            row_pk=f"{first}-{last}",
            op=DataChange.Op.INSERT,
            changes={"rows": [None, rows], **{k: [None, v] for k, v in detail.items()}},
            actor_label=DEMO_LABEL,
        )


def seed_access_rules() -> int:
    created = 0
    for fields in RULES:
        _, new = AccessRule.objects.get_or_create(name=fields["name"], defaults=fields)
        created += new
    return created


def seed_access_history(*, users: dict) -> int:
    """Yesterday's reads by the demo RM: 360 views of a dozen customers and one ID reveal,
    with its reason, from a branch workstation."""
    rm = users.get("rm")
    if rm is None or AccessLog.objects.filter(request_id__startswith=DEMO_REQUEST).exists():
        return 0
    customers = list(Customer.objects.filter(primary_rm=rm).order_by("cif")[:12])
    yesterday = timezone.localdate() - timedelta(days=1)
    start = timezone.make_aware(datetime.combine(yesterday, time(9, 20)))
    rows = [
        AccessLog(
            actor=rm, action=AccessLog.Action.VIEW, object_type="customers.customer",
            object_id=str(c.pk), customer_id=c.pk, ip_address="10.31.8.21",
            request_id=f"{DEMO_REQUEST}-{n}", at=start + timedelta(minutes=7 * n),
        )
        for n, c in enumerate(customers)
    ]  # fmt: skip
    if customers:
        first = customers[0]
        rows.append(
            AccessLog(
                actor=rm, action=AccessLog.Action.REVEAL, object_type="customers.customer",
                object_id=str(first.pk), customer_id=first.pk, reason="客户临柜办理挂失，核对身份",
                detail={"field": "national_id"}, ip_address="10.31.8.21",
                request_id=f"{DEMO_REQUEST}-reveal", at=start + timedelta(minutes=3),
            )
        )  # fmt: skip
    AccessLog.objects.bulk_create(rows)
    return len(rows)


# What source systems found about a few of the demo RM's customers (as `risk.signal` would
# bring it): kind, who found it, severity, evidence.
DEMO_SIGNALS = [
    ("court_enforcement", "中国执行信息公开网", 3,
     {"case_no": "(2026)沪0115执1234号", "amount": "356000.00"}),
    ("litigation", "中国裁判文书网", 2,
     {"case_no": "(2026)沪0104民初5678号", "cause": "民间借贷纠纷"}),
    ("negative_news", "舆情监测", 1, {"headline": "所在企业被曝拖欠供应商货款", "media": "财经网"}),
]  # fmt: skip


def seed_risk_warnings(*, users: dict) -> int:
    """Warnings on three of the demo RM's customers (through the service, as signals from
    the `core` source), and the bank's own signals (overdue loans, expired KYC) as the
    daily sweep raises them. A second run finds every signal applied."""
    from compliance.models import RiskWarningKind
    from compliance.warnings import Signal, internal_signals_raise, warning_signal_apply

    if not RiskWarningKind.objects.exists():  # emptied (a test database): nothing to signal
        return 0
    rm = users.get("rm")
    customers = list(Customer.objects.filter(primary_rm=rm).order_by("cif")[12:15]) if rm else []
    new = 0
    for customer, (kind, found_by, severity, evidence) in zip(
        customers, DEMO_SIGNALS, strict=False
    ):
        new += warning_signal_apply(signal=Signal(
            source="core", signal_id=f"demo-{kind}-{customer.cif}", customer_id=customer.pk,
            kind=kind, severity=severity, reported_by=found_by, evidence=evidence,
            occurred_at=timezone.now() - timedelta(days=2),
        )) is not None  # fmt: skip
    # The sweep's own work, written as the demo's (the task labels its writes as the task).
    return new + internal_signals_raise()


def seed(demo) -> None:
    demo.add("access_rules", seed_access_rules())
    demo.add("access_log", seed_access_history(users=demo.users))
    demo.add("risk_signals", seed_risk_warnings(users=demo.users))
