"""Risk warnings: how signals open, refresh and end them (models in warning_models.py).

A signal says "customer C has trouble of kind K, this severe, seen at T", from a source
system (`risk.signal` through the integration API) or from the bank's own data (a loan 30
or 90 days overdue, an expired KYC: internal_signals_raise, once a day). Applying one:

- Each signal is written once to the RiskSignal ledger, keyed by (source, signal id): a
  replay (the same event again, the same signal under a new event id, the sweep run twice
  in a day) finds its row and changes nothing. The unique index decides, so two workers
  applying the same signal at once cannot both count it: the loser's transaction fails on
  the duplicate key, and its retry (the inbox's) finds the signal applied and changes
  nothing.
- One open warning per customer and kind (a partial unique index). A signal refreshes it:
  the latest signal's evidence, expiry moved to its time + the kind's validity, severity
  raised if the signal is more severe, never lowered (only a person ends a warning).
- With none open, a signal opens one, unless it is older than the end of the last one (a
  late signal does not reopen what a person cleared, or what expired after it) or already
  past its validity.
- Opening a warning, or raising one to severe, tells the customer's RM (a staff
  notification, once per warning and reason).
- Warnings end by expiry (warnings_expire, from the same beat task) or when a compliance
  officer or the customer's branch manager clears one with a reason (warning_clear).

The suitability engine asks has_severe_warning (one customer) or embeds
severe_warning_exists_sql (a set of customers); both read the same partial index and
agree (tests/compliance/test_warnings.py holds them against each other).
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bankcrm.audit import SYSTEM, AuditContext, acting, audit_context
from bankcrm.services import notify_staff
from compliance.warning_models import (
    SEVERITY_CODES,
    RiskSignal,
    RiskWarning,
    RiskWarningKind,
    Severity,
)
from customers.ingest.services import ParkedError, customer_id_for
from customers.models import Account, Customer

logger = logging.getLogger(__name__)
INTERNAL = "internal"  # the source of the bank's own signals
LOAN_OVERDUE_30, LOAN_OVERDUE_90, KYC_EXPIRED = "loan_overdue_30", "loan_overdue_90", "kyc_expired"


@dataclass(frozen=True)
class Signal:
    source: str  # the integration source's code, or INTERNAL
    signal_id: str  # unique per source: the replay guard
    customer_id: int
    kind: str  # a RiskWarningKind code
    occurred_at: datetime
    severity: int | None = None  # None: the kind's default
    reported_by: str = ""  # who found it (the credit bureau, a court, a news monitor)
    evidence: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.source}:{self.signal_id}"


class UnknownKindError(Exception):
    pass


# ---- applying signals ---------------------------------------------------------------------


@transaction.atomic
def warning_signal_apply(*, signal: Signal) -> RiskSignal | None:
    """Applies one signal (see the module's docstring) and returns its ledger row, or None
    when the signal was applied before. UnknownKindError for a kind code not in the table."""
    if RiskSignal.objects.filter(source=signal.source, signal_id=signal.signal_id).exists():
        return None
    kind = RiskWarningKind.objects.filter(code=signal.kind).first()
    if kind is None:
        raise UnknownKindError(signal.kind)
    severity = signal.severity or kind.default_severity
    outcome, warning, tell = _apply(kind, signal, severity)
    row = RiskSignal.objects.create(
        source=signal.source, signal_id=signal.signal_id, customer_id=signal.customer_id,
        kind=kind, severity=severity, reported_by=signal.reported_by, evidence=signal.evidence,
        occurred_at=signal.occurred_at, warning=warning, outcome=outcome,
    )  # fmt: skip
    if tell:
        _tell_rm(warning, kind, tell)
    return row


def _apply(kind: RiskWarningKind, signal: Signal, severity: int):
    """(outcome, warning or None, why to tell the RM or None)."""
    if not kind.is_active:
        return RiskSignal.Outcome.INACTIVE, None, None
    at = signal.occurred_at
    expires = at + timedelta(days=kind.validity_days)
    warning = (
        RiskWarning.objects.select_for_update()
        .filter(customer_id=signal.customer_id, kind=kind, status=RiskWarning.Status.OPEN)
        .first()
    )
    if warning is not None:
        raised = severity > warning.severity
        changed = []
        if raised:
            warning.severity = severity
            changed.append("severity")
        if at > warning.last_seen:  # the latest signal's evidence; a late one adds its own row
            warning.last_seen, warning.evidence = at, signal.evidence
            warning.source, warning.last_signal_key = signal.source, signal.key
            changed += ["last_seen", "evidence", "source", "last_signal_key"]
        if at < warning.first_seen:
            warning.first_seen = at
            changed.append("first_seen")
        if expires > warning.expires_at:
            warning.expires_at = expires
            changed.append("expires_at")
        if changed:
            warning.save(update_fields=changed)
        tell = "severe" if raised and severity == Severity.SEVERE else None
        return RiskSignal.Outcome.REFRESHED, warning, tell
    if expires <= timezone.now():
        return RiskSignal.Outcome.LAPSED, None, None
    last = (
        RiskWarning.objects.filter(customer_id=signal.customer_id, kind=kind)
        .order_by("-closed_at", "-pk")
        .first()
    )
    if last is not None:
        # A person cleared it at closed_at; an expired one had considered signals up to
        # last_seen. What happened before that is what ended, not new trouble.
        ended = last.closed_at if last.status == RiskWarning.Status.CLEARED else last.last_seen
        if at <= ended:
            return RiskSignal.Outcome.STALE, last, None
    warning = RiskWarning.objects.create(
        customer_id=signal.customer_id, kind=kind, severity=severity, source=signal.source,
        evidence=signal.evidence, first_seen=at, last_seen=at, expires_at=expires,
        last_signal_key=signal.key,
    )  # fmt: skip
    return RiskSignal.Outcome.OPENED, warning, "opened"


def _tell_rm(warning: RiskWarning, kind: RiskWarningKind, why: str) -> None:
    """The customer's RM gets a message in the bank's language, once per warning and why."""
    customer = Customer.objects.only("name", "primary_rm_id").get(pk=warning.customer_id)
    if customer.primary_rm_id is None:
        return
    with translation.override(settings.LANGUAGE_CODE):
        names = {"kind": kind.name, "customer": customer.name}
        if why == "severe":
            title = _("Risk warning now severe: %(kind)s (%(customer)s)") % names
        else:
            title = _("New risk warning: %(kind)s (%(customer)s)") % names
        body = kind.action
    notify_staff(
        recipients=[customer.primary_rm_id], kind="risk_warning", title=title, body=body,
        link=reverse("customers:detail", args=[customer.pk]),
        dedupe_key=f"risk-warning:{warning.pk}:{why}",
    )  # fmt: skip


def apply_risk_signal(event, batch) -> None:
    """The inbox worker's handler of `risk.signal` (bankcrm.registry.EVENT_HANDLERS). An
    unknown customer or kind parks the event for an admin (map the customer, add the kind,
    then replay); the audit trail names the source system and its event."""
    data = event.payload
    customer_id = customer_id_for(batch, event)
    occurred = data.get("occurred_at")
    signal = Signal(
        source=event.source.code,
        signal_id=data["signal_id"],
        customer_id=customer_id,
        kind=data["kind"],
        severity=SEVERITY_CODES[data["severity"]] if data.get("severity") else None,
        reported_by=data.get("source", ""),
        evidence=data.get("evidence", {}),
        occurred_at=datetime.fromisoformat(occurred) if occurred else event.occurred_at,
    )
    with audit_context(label=f"source:{event.source.code}", request_id=f"event:{event.event_id}"):
        try:
            warning_signal_apply(signal=signal)
        except UnknownKindError:
            raise ParkedError("unknown_risk_kind") from None


# ---- the bank's own signals and expiry ----------------------------------------------------


def internal_signals_raise(*, day=None) -> int:
    """Signals from the bank's own data, once per customer, kind and day (the signal id
    holds the day, so a second run that day is a replay): loans at least 30 or 90 days
    overdue (Account.overdue_days of open loans, as core banking or an import sets it; the
    worse kind only) and KYC expired (kyc_expires_on before today, active and dormant
    customers). Returns how many signals were new."""
    day = day or timezone.localdate()
    now = timezone.now()
    signals = []
    loans = (
        Account.objects.filter(kind=Account.Kind.LOAN, overdue_days__gte=30)
        .exclude(status=Account.Status.CLOSED)
        .values("customer_id")
        .annotate(days=Max("overdue_days"), accounts=ArrayAgg("number_masked"))
        .order_by("customer_id")
    )
    for row in loans:
        kind = LOAN_OVERDUE_90 if row["days"] >= 90 else LOAN_OVERDUE_30
        evidence = {"overdue_days": row["days"], "accounts": sorted(row["accounts"])}
        signals.append((row["customer_id"], kind, evidence))
    expired = Customer.objects.filter(
        kyc_expires_on__lt=day,
        lifecycle__in=[Customer.Lifecycle.ACTIVE, Customer.Lifecycle.DORMANT],
    ).values_list("pk", "kyc_expires_on")
    for customer_id, expires_on in expired.order_by("pk"):
        signals.append((customer_id, KYC_EXPIRED, {"kyc_expired_on": expires_on.isoformat()}))
    new, missing = 0, set()
    for customer_id, kind, evidence in signals:
        signal = Signal(
            source=INTERNAL, signal_id=f"{kind}:{customer_id}:{day.isoformat()}",
            customer_id=customer_id, kind=kind, occurred_at=now, evidence=evidence,
            reported_by="bankcrm",
        )  # fmt: skip
        try:
            new += warning_signal_apply(signal=signal) is not None
        except UnknownKindError:
            missing.add(kind)  # the kind was removed: the others still go on
    if missing:
        logger.error("risk_warnings.kinds_missing", extra={"kinds": sorted(missing)})
    return new


def warnings_expire(*, at=None) -> int:
    """Open warnings past their expiry become expired (ended at their expiry); one
    statement, recorded by the data-change trigger. Returns how many."""
    at = at or timezone.now()
    return RiskWarning.objects.filter(status=RiskWarning.Status.OPEN, expires_at__lte=at).update(
        status=RiskWarning.Status.EXPIRED, closed_at=at
    )


def warnings_sweep(*, day=None) -> tuple[int, int]:
    """The daily work (compliance.tasks.sweep_risk_warnings): the bank's own signals, then
    expiry. Safe to run any number of times a day."""
    with audit_context(label="task:compliance.tasks.sweep_risk_warnings"):
        return internal_signals_raise(day=day), warnings_expire()


# ---- people ending a warning --------------------------------------------------------------


def warning_clear(
    *, warning: RiskWarning, actor, reason: str, context: AuditContext = SYSTEM
) -> bool:
    """Clears an open warning with the reason; who, when and why are on the row and in the
    data-change trail. False if it was no longer open (cleared by someone else, expired):
    the UPDATE's row count decides, so two clicks cannot both clear it."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required")
    with transaction.atomic(), acting(actor=actor, context=context):
        cleared = RiskWarning.objects.filter(
            pk=warning.pk, status=RiskWarning.Status.OPEN
        ).update(
            status=RiskWarning.Status.CLEARED, cleared_by=actor, cleared_reason=reason,
            closed_at=timezone.now(),
        )  # fmt: skip
    if cleared:
        warning.refresh_from_db()
    return bool(cleared)


# ---- what the suitability engine asks -----------------------------------------------------


def has_severe_warning(customer_id: int, at=None) -> bool:
    """Whether the customer has an open severe warning in force at `at` (now): marketing
    to them is blocked. One index-only probe (riskwarning_severe_open)."""
    return RiskWarning.objects.in_force(at).severe().filter(customer_id=customer_id).exists()


_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_MOMENT = re.compile(r"^(now\(\)|%s|%\([A-Za-z_]+\)s|[A-Za-z_][A-Za-z0-9_.]*)$")


def severe_warning_exists_sql(
    customer_column: str = "customers_customer.id", *, at_sql: str = "now()"
) -> str:
    """has_severe_warning as an SQL boolean for a set of customers, to embed in a query
    over customers (`… WHERE NOT <this>`): EXISTS over the same partial index.
    `customer_column` names the customer id column; `at_sql` the moment (default now(),
    or a placeholder such as %s). Both must be plain names: they are put in the SQL."""
    if not _COLUMN.match(customer_column):
        raise ValueError(f"not a column name: {customer_column!r}")
    if not _MOMENT.match(at_sql):
        raise ValueError(f"not a moment: {at_sql!r}")
    # Both names were checked above.
    return (
        "EXISTS (SELECT 1 FROM compliance_riskwarning rw"  # noqa: S608
        f" WHERE rw.customer_id = {customer_column} AND rw.status = 'open'"
        f" AND rw.severity = {int(Severity.SEVERE)} AND rw.expires_at > {at_sql})"
    )


def severe_warning_exists(outer: str = "pk", at=None) -> Exists:
    """The same for the ORM: `customers.filter(~severe_warning_exists())`."""
    return Exists(RiskWarning.objects.in_force(at).severe().filter(customer_id=OuterRef(outer)))


def any_warning_exists(outer: str = "pk", at=None) -> Exists:
    """Customers with any warning in force (the customer list's "with warnings")."""
    return Exists(RiskWarning.objects.in_force(at).filter(customer_id=OuterRef(outer)))
