"""A small book of customers with a history, and a model over the CRM's features trained on
made-up rows (seconds, not the CRM's history), for the analytics tests."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from django.utils import timezone

from analytics import training
from analytics.features import FEATURE_NAMES, SHANGHAI
from analytics.models import ModelVersion
from analytics.services import model_version_activate, model_version_record
from bankcrm.audit import SYSTEM
from customers.models import Account, Interaction, Transaction
from tests import factories


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


def transaction(
    account: Account,
    when: datetime,
    amount,
    *,
    kind="消费",
    direction="debit",
    channel="mobile",
    adjust_balance=False,
) -> Transaction:
    """A booked transaction; with adjust_balance the account's balance moves with it, as
    core banking's would (a balance at T is today's less what came after)."""
    amount = Decimal(str(amount))
    tx = Transaction.objects.create(
        account=account,
        customer_id=account.customer_id,
        booked_at=when,
        amount=amount,
        direction=direction,
        channel=channel,
        kind=kind,
        external_id=f"T{Transaction.objects.count() + 1}-{when:%Y%m%d%H%M%S}",
    )
    if adjust_balance:
        account.balance += amount if direction == "credit" else -amount
        account.save(update_fields=["balance"])
    return tx


def book(branch, rm, *, today: date, n: int = 3):
    """n customers created two years ago, each with a current account and salary,
    spending and an interaction before `today`; the first also a wealth product."""
    customers = []
    for i in range(n):
        c = factories.customer(
            branch=branch, rm=rm, name=f"客户{i}", birth_date=date(1980 + i, 5, 1)
        )
        c.created_at = timezone.now() - timedelta(days=730)
        c.save(update_fields=["created_at"])
        acct = factories.account(
            c, balance=Decimal("80000.00"), opened_on=today - timedelta(days=700)
        )
        for months in (1, 2, 3):
            day = today - timedelta(days=30 * months)
            transaction(acct, at(day), 12000, kind="工资", direction="credit", channel="transfer")
            transaction(acct, at(day, 15), 300 + i, kind="网购", channel="online")
        if i == 0:
            factories.account(
                c,
                kind=Account.Kind.WEALTH,
                balance=Decimal("600000.00"),
                opened_on=today - timedelta(days=400),
                risk_level="R2",
            )
        Interaction.objects.create(
            customer=c,
            channel="phone",
            direction="outbound",
            subject="回访",
            occurred_at=at(today - timedelta(days=20)),
        )
        customers.append(c)
    return customers


def synthetic_model(name: str, *, trainer, seed: int = 1, rows: int = 1500) -> ModelVersion:
    """A version over the CRM's feature names, trained on random rows whose label depends
    on a few of them (salary gap, complaints, transactions)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, len(FEATURE_NAMES)))
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    X[:, col["days_since_salary"]] = rng.uniform(0, 365, rows)
    X[:, col["complaints_90"]] = rng.poisson(0.3, rows)
    gap = X[:, col["days_since_salary"]]
    # Not linear (a window of the salary gap), so LightGBM beats the baseline.
    logit = 4.0 * ((gap > 90) & (gap < 250)) - 2.5 + 1.5 * X[:, col["complaints_90"]]
    y = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(float)
    columns = [training.Column(n, "numeric") for n in FEATURE_NAMES]
    table = training.Table(X, y, columns, {}, None, f"{name} (synthetic)")
    trained = training.train(table, check_leaks=False)
    return model_version_record(
        actor=trainer,
        context=SYSTEM,
        name=name,
        source=ModelVersion.Source.CRM,
        source_detail="synthetic",
        table=table,
        trained=trained,
    )


def activate(version: ModelVersion, by) -> ModelVersion:
    return model_version_activate(actor=by, context=SYSTEM, version_id=version.pk)
