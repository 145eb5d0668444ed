"""A small bank whose KPI figures are worked out by hand (test_kpi.py checks the snapshot
against them; the dashboard and report tests read the same world).

Day D = 10 March 2025. Branch SH (the `branch` fixture) and BJ.
- A (rm, SH, affluent, active), since 2024: a current account of 10,000 today with +100 on
  20 January, +3,000 on 5 March, −1,000 on 12 March and +500 on 1 April: at D it held
  10,000 − (−1,000 + 500) = 10,500; from 1 to 4 March 7,500, from 5 to 10 March 10,500, so
  the March average to D is (4 × 7,500 + 6 × 10,500) / 10 = 9,300. A wealth product of
  50,000 opened on 8 March (no transactions): 3 days × 50,000 / 10 = 15,000 on average.
  A loan of 200,000, 40 days overdue. Moved from affluent to wealth in the night after D.
- B (rm, SH, mass, dormant): a current account of 2,000; −100 on 20 November 2024 only
  (within the 90 days to 9 February, not within the 90 days to D).
- C (other_rm, SH, affluent, closed): a closed current account of 0.
- E (bj_rm, BJ, mass, active), created on D: a current account of 5,000.
- F (rm, SH), created after D: not there at D.

So at D: SH deposits 12,500, AUM 62,500, loans 200,000 (overdue); SH customers 2 (A, B) and
1 closed; products held 4 by 2 customers (2.0 each); transacting 30 days before: A and B,
still transacting: A (retention 50%). Service: a ticket of A opened and resolved on D within
its target and rated 4; one of B opened the day before, resolved on D late. Campaign: 2 SMS
sent on D to A and B at 0.05 each, A converted on D at 800 a conversion.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from analytics.features import SHANGHAI
from analytics.models import CustomerValue
from bankcrm.roles import Role
from customers.models import Account, Customer
from marketing.models import Campaign, CampaignStep, Delivery, Segment
from service.models import BusinessCalendar, Queue, Survey, Ticket
from tests import factories
from tests.analytics.helpers import transaction

D = date(2025, 3, 10)


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


@dataclass
class KpiWorld:
    sh: object
    bj: object
    rm: object
    other_rm: object
    bj_rm: object
    bj_manager: object
    a: Customer
    b: Customer
    c: Customer
    e: Customer
    queue: Queue
    campaign: Campaign


def _customer(branch, rm, name, tier, lifecycle, created):
    c = factories.customer(branch=branch, rm=rm, name=name, tier=tier, lifecycle=lifecycle)
    Customer.objects.filter(pk=c.pk).update(created_at=created)
    c.refresh_from_db()
    return c


def build(branch, other_branch, rm, other_rm, marketer, approver) -> KpiWorld:
    bj_rm = factories.user(Role.RELATIONSHIP_MANAGER, branch=other_branch, username="bjrm")
    bj_manager = factories.user(Role.BRANCH_MANAGER, branch=other_branch, username="bjbm")
    a = _customer(branch, rm, "甲", "affluent", "active", at(date(2024, 1, 1)))
    b = _customer(branch, rm, "乙", "mass", "dormant", at(date(2024, 1, 1)))
    c = _customer(branch, other_rm, "丙", "affluent", "closed", at(date(2024, 1, 1)))
    e = _customer(other_branch, bj_rm, "戊", "mass", "active", at(D, 9))
    _customer(branch, rm, "己", "mass", "active", at(D + timedelta(days=1), 9))

    current = factories.account(a, balance=Decimal("10000.00"), opened_on=date(2024, 1, 1))
    for day, amount, direction in ((date(2025, 1, 20), 100, "credit"),
                                   (date(2025, 3, 5), 3000, "credit"),
                                   (date(2025, 3, 12), 1000, "debit"),
                                   (date(2025, 4, 1), 500, "credit")):  # fmt: skip
        transaction(current, at(day), amount, direction=direction)
    factories.account(a, kind=Account.Kind.WEALTH, balance=Decimal("50000.00"),
                      opened_on=date(2025, 3, 8), risk_level="R2")  # fmt: skip
    factories.account(a, kind=Account.Kind.LOAN, balance=Decimal("200000.00"),
                      principal=Decimal("300000.00"), opened_on=date(2023, 5, 1),
                      overdue_days=40)  # fmt: skip
    b_current = factories.account(b, balance=Decimal("2000.00"), opened_on=date(2024, 1, 1))
    transaction(b_current, at(date(2024, 11, 20)), 100)
    factories.account(c, balance=Decimal("0.00"), opened_on=date(2024, 1, 1),
                      status=Account.Status.CLOSED)  # fmt: skip
    factories.account(e, balance=Decimal("5000.00"), opened_on=D)

    CustomerValue.objects.create(
        customer=a, computed_on=D + timedelta(days=1), aum=Decimal(60000), stickiness=0.2,
        risk_factor=0.8, value_score=Decimal(600000), tier="wealth",
        tier_since=D + timedelta(days=1), previous_tier="affluent", margin_per_year=Decimal(900),
        churn_probability=0.45, clv=Decimal(5000),
    )  # fmt: skip

    calendar = BusinessCalendar.objects.create(name="KPI")
    queue = Queue.objects.create(code="kpi", name="KPI 队列", calendar=calendar)
    t1 = factories.ticket(a, queue=queue, created_at=at(D, 9), resolved_at=at(D, 11),
                          resolve_due_at=at(D, 17), status=Ticket.Status.RESOLVED)  # fmt: skip
    Survey.objects.create(ticket=t1, token_hash="a" * 64, expires_at=at(D + timedelta(days=7)),
                          score=4, answered_at=at(D, 15))  # fmt: skip
    factories.ticket(b, queue=queue, created_at=at(D - timedelta(days=1)),
                     resolved_at=at(D, 12), resolve_due_at=at(D - timedelta(days=1), 17),
                     status=Ticket.Status.RESOLVED)  # fmt: skip

    segment = Segment.objects.create(name="KPI 客群", owner=marketer)
    campaign = Campaign.objects.create(
        name="春季理财", segment=segment, channels=["sms"], created_by=marketer,
        approved_by=approver, revenue_per_conversion=Decimal(800), status="done",
    )  # fmt: skip
    step = CampaignStep.objects.create(campaign=campaign, channel="sms",
                                       cost_per_message=Decimal("0.05"))  # fmt: skip
    for customer, converted in ((a, at(D, 16)), (b, None)):
        Delivery.objects.create(
            campaign=campaign, step=step, customer=customer, channel="sms", status="sent",
            idempotency_key=f"kpi-{customer.pk}", sent_at=at(D, 10), converted_at=converted,
        )  # fmt: skip
    return KpiWorld(branch, other_branch, rm, other_rm, bj_rm, bj_manager, a, b, c, e, queue,
                    campaign)  # fmt: skip
