"""Demo access-anomaly rules, and a day of sensitive reads by the demo RM for the audit
screens to show (customers/demo.py calls this; idempotent)."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from bankcrm.models import AccessLog
from bankcrm.roles import Role
from compliance.models import AccessRule
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
]  # fmt: skip
DEMO_REQUEST = "demo-seed"


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
