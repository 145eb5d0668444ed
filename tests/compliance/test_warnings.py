"""Risk warnings from signals: `risk.signal` events through the real ingest path (signed,
stored, applied by the inbox worker), replayed and out of order; the bank's own signals
(overdue loans, expired KYC) and expiry; clearing with a reason; the RM's notification;
and has_severe_warning against its SQL form."""

import json
import random
from datetime import date, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from bankcrm.models import StaffNotification
from bankcrm.roles import Role
from compliance import warnings
from compliance.models import DataChange, RiskSignal, RiskWarning, Severity
from customers.ingest import signing
from customers.ingest.services import inbox_process
from customers.models import Customer, ExternalIdentity
from customers.models.integration import InboxEvent, IntegrationSource
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("risk_kinds")]

NOW = timezone.now()


@pytest.fixture
def core(db):
    return IntegrationSource.objects.create(code="core", name="核心系统", kind="core")


@pytest.fixture
def mapped(customer):
    ExternalIdentity.objects.create(source="core", external_id="C0000000001", customer=customer)
    return customer


def signal_event(seq, *, signal_id="S-1", kind="court_enforcement", severity="severe",
                 occurred=None, ref="C0000000001", **data):  # fmt: skip
    occurred = occurred or NOW
    return {
        "event_id": f"core-{seq}",
        "sequence": seq,
        "type": "risk.signal",
        "occurred_at": occurred.isoformat(),
        "data": {
            "customer_ref": ref,
            "signal_id": signal_id,
            "kind": kind,
            "severity": severity,
            "source": "中国执行信息公开网",
            "evidence": {"case_no": f"(2026)沪0115执{seq}号", "amount": "356000.00"},
            "occurred_at": occurred.isoformat(),
            **data,
        },
    }


def push(client, source, *events):
    body = json.dumps({"events": list(events)}).encode()
    response = client.post(
        "/api/v1/events/batch", body, content_type="application/json",
        headers=signing.headers(source.secret, source.code, body),
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["rejected"] == 0, response.json()
    while inbox_process():
        pass


def open_warnings(customer):
    return list(RiskWarning.objects.filter(customer=customer, status="open"))


# ---- from the API --------------------------------------------------------------------------


def test_a_signal_opens_one_warning_and_tells_the_rm(client, core, mapped, rm):
    push(client, core, signal_event(1))
    (warning,) = open_warnings(mapped)
    assert (warning.kind.code, warning.severity, warning.source) == (
        "court_enforcement", Severity.SEVERE, "core",
    )  # fmt: skip
    assert warning.evidence["case_no"] == "(2026)沪0115执1号"
    assert warning.expires_at == warning.last_seen + timedelta(days=180)
    assert InboxEvent.objects.get().status == "applied"
    (note,) = StaffNotification.objects.filter(recipient=rm)
    assert note.kind == "risk_warning" and "被执行人" in note.title and "李娜" in note.title
    assert "停止营销" in note.body and note.link == f"/customers/{mapped.pk}/"
    rm.refresh_from_db()
    assert rm.unread_notifications == 1
    # The trail names the source system and its event.
    change = DataChange.objects.get(table_name="compliance_riskwarning")
    assert (change.op, change.actor_label, change.request_id, change.customer_id) == (
        "I", "source:core", "event:core-1", mapped.pk,
    )  # fmt: skip
    assert warnings.has_severe_warning(mapped.pk)


def test_replays_change_nothing(client, core, mapped, rm):
    push(client, core, signal_event(1))
    before = RiskWarning.objects.values().get()
    # The same event again (the API answers as before), and the same finding under a new
    # event id (the source retried on its side).
    push(client, core, signal_event(1), signal_event(2))
    assert RiskWarning.objects.values().get() == before
    assert RiskSignal.objects.count() == 1
    assert StaffNotification.objects.count() == 1
    assert set(InboxEvent.objects.values_list("status", flat=True)) == {"applied"}


def test_a_later_signal_refreshes_and_raises_never_lowers(client, core, mapped, rm):
    push(client, core, signal_event(1, kind="litigation", severity="warning",
                                    occurred=NOW - timedelta(days=3)))  # fmt: skip
    push(client, core, signal_event(2, signal_id="S-2", kind="litigation", severity="severe",
                                    occurred=NOW - timedelta(days=1)))  # fmt: skip
    (warning,) = open_warnings(mapped)
    assert warning.severity == Severity.SEVERE
    assert warning.last_signal_key == "core:S-2"
    # Raised to severe: the RM is told again (opened, then severe).
    titles = sorted(StaffNotification.objects.values_list("title", flat=True))
    assert len(titles) == 2 and any("严重" in t for t in titles)
    # A newer but milder signal refreshes; it does not lower the severity.
    push(client, core, signal_event(3, signal_id="S-3", kind="litigation", severity="info"))
    warning.refresh_from_db()
    assert warning.severity == Severity.SEVERE and warning.last_signal_key == "core:S-3"
    assert warning.first_seen < warning.last_seen


def test_out_of_order_signals_neither_lower_nor_reopen(
    client, core, mapped, rm, compliance_officer
):
    push(client, core, signal_event(1, signal_id="S-new", severity="severe"))
    (warning,) = open_warnings(mapped)
    seen = warning.last_seen
    # An older, milder finding arrives late: recorded, but the warning keeps the newest
    # evidence and its severity.
    old = signal_event(
        2, signal_id="S-old", severity="info", occurred=NOW - timedelta(days=2),
        evidence={"old": True},
    )  # fmt: skip
    push(client, core, old)
    warning.refresh_from_db()
    assert (warning.severity, warning.last_seen, warning.evidence.get("old")) == (
        Severity.SEVERE, seen, None,
    )  # fmt: skip
    assert warning.first_seen == NOW - timedelta(days=2)
    # Cleared by a person; then a finding from before the clearing arrives late: ignored.
    assert warnings.warning_clear(warning=warning, actor=compliance_officer, reason="已结案")
    push(client, core, signal_event(3, signal_id="S-older", occurred=NOW - timedelta(hours=1)))
    assert open_warnings(mapped) == []
    assert RiskSignal.objects.get(signal_id="S-older").outcome == "stale"
    # A finding after the clearing is new trouble: a new warning.
    push(client, core, signal_event(4, signal_id="S-after", occurred=timezone.now()))
    (reopened,) = open_warnings(mapped)
    assert reopened.pk != warning.pk


def test_unknown_customer_or_kind_is_parked_not_lost(client, core, mapped):
    push(client, core, signal_event(1, ref="C404"), signal_event(2, kind="fortune_telling"))
    assert dict(InboxEvent.objects.values_list("sequence", "error")) == {
        1: "unknown_customer", 2: "unknown_risk_kind",
    }  # fmt: skip
    assert set(InboxEvent.objects.values_list("status", flat=True)) == {"parked"}
    assert not RiskWarning.objects.exists() and not RiskSignal.objects.exists()


def test_a_signal_past_its_validity_opens_nothing(client, core, mapped):
    push(client, core, signal_event(1, kind="negative_news", occurred=NOW - timedelta(days=31)))
    assert open_warnings(mapped) == []
    assert RiskSignal.objects.get().outcome == "lapsed"


def test_evidence_with_nul_is_refused_at_the_door(client, core, mapped):
    event = signal_event(1, evidence={"note": "a\u0000b"})
    body = json.dumps(event).encode()
    response = client.post(
        "/api/v1/events", body, content_type="application/json",
        headers=signing.headers(core.secret, core.code, body),
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "invalid_character", "field": "data.evidence",
        "message": "Text cannot contain NUL (U+0000) or unpaired surrogates.",
    }  # fmt: skip


def test_one_open_warning_per_customer_and_kind_is_the_databases_rule(mapped):
    warnings.warning_signal_apply(signal=warnings.Signal(
        source="core", signal_id="A", customer_id=mapped.pk, kind="litigation", occurred_at=NOW,
    ))  # fmt: skip
    warning = RiskWarning.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        RiskWarning.objects.create(
            customer=mapped, kind=warning.kind, severity=1, source="x", first_seen=NOW,
            last_seen=NOW, expires_at=NOW + timedelta(days=1),
        )  # fmt: skip
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        RiskSignal.objects.update(outcome="stale")


# ---- the bank's own signals ---------------------------------------------------------------


def test_overdue_loans_and_expired_kyc_open_warnings_once_a_day(branch, rm):
    today = timezone.localdate()
    late = factories.customer(branch=branch, rm=rm)
    very_late = factories.customer(branch=branch, rm=rm)
    fine = factories.customer(branch=branch, rm=rm)
    kyc = factories.customer(branch=branch, rm=rm, kyc_expires_on=today - timedelta(days=1))
    closed = factories.customer(branch=branch, rm=rm, kyc_expires_on=date(2020, 1, 1),
                                lifecycle=Customer.Lifecycle.CLOSED)  # fmt: skip
    factories.account(late, kind="loan", overdue_days=45)
    factories.account(very_late, kind="loan", overdue_days=35)
    factories.account(very_late, kind="loan", overdue_days=120)
    factories.account(fine, kind="loan", overdue_days=29)
    factories.account(fine, kind="loan", overdue_days=200, status="closed")
    assert warnings.warnings_sweep() == (3, 0)
    found = {(w.customer_id, w.kind.code, w.severity) for w in RiskWarning.objects.all()}
    assert found == {
        (late.pk, "loan_overdue_30", Severity.WARNING),
        (very_late.pk, "loan_overdue_90", Severity.SEVERE),
        (kyc.pk, "kyc_expired", Severity.WARNING),
    }
    assert RiskWarning.objects.get(customer=very_late).evidence["overdue_days"] == 120
    assert not RiskWarning.objects.filter(customer__in=[fine, closed]).exists()
    # A second run the same day finds every signal applied: nothing changes, nobody is told
    # twice.
    notes = StaffNotification.objects.count()
    assert notes == 3
    assert warnings.warnings_sweep() == (0, 0)
    assert StaffNotification.objects.count() == notes
    assert DataChange.objects.filter(table_name="compliance_riskwarning").count() == 3
    assert set(DataChange.objects.filter(table_name="compliance_riskwarning")
               .values_list("actor_label", flat=True)) == {
        "task:compliance.tasks.sweep_risk_warnings"}  # fmt: skip


def test_a_warning_no_longer_signalled_expires(branch, rm):
    today = timezone.localdate()
    late = factories.customer(branch=branch, rm=rm)
    loan = factories.account(late, kind="loan", overdue_days=40)
    warnings.warnings_sweep(day=today)
    (warning,) = open_warnings(late)
    # Still overdue the next day: refreshed (a new signal), still open.
    warnings.warnings_sweep(day=today + timedelta(days=1))
    assert open_warnings(late) == [warning]
    assert RiskSignal.objects.filter(warning=warning).count() == 2
    # Repaid: no more signals; once its validity has run out, the sweep ends it.
    loan.overdue_days = 0
    loan.save(update_fields=["overdue_days"])
    warning.refresh_from_db()
    assert warnings.warnings_expire(at=warning.expires_at - timedelta(seconds=1)) == 0
    assert warnings.warnings_expire(at=warning.expires_at) == 1
    warning.refresh_from_db()
    assert warning.status == "expired" and warning.closed_at == warning.expires_at
    assert not warnings.has_severe_warning(late.pk)


def test_an_open_warning_past_its_expiry_is_not_in_force_before_the_sweep(mapped):
    warnings.warning_signal_apply(signal=warnings.Signal(
        source="core", signal_id="A", customer_id=mapped.pk, kind="regulator_blacklist",
        occurred_at=NOW - timedelta(days=364),
    ))  # fmt: skip
    warning = RiskWarning.objects.get()
    assert warnings.has_severe_warning(mapped.pk)
    assert not warnings.has_severe_warning(mapped.pk, at=warning.expires_at)
    assert warning.status == "open"


# ---- clearing -----------------------------------------------------------------------------


def test_clearing_needs_a_reason_and_happens_once(mapped, compliance_officer, branch_manager):
    warnings.warning_signal_apply(signal=warnings.Signal(
        source="core", signal_id="A", customer_id=mapped.pk, kind="court_enforcement",
        occurred_at=NOW,
    ))  # fmt: skip
    warning = RiskWarning.objects.get()
    with pytest.raises(ValueError):
        warnings.warning_clear(warning=warning, actor=compliance_officer, reason="  ")
    assert warnings.warning_clear(warning=warning, actor=compliance_officer, reason="执行已终结")
    assert not warnings.warning_clear(warning=warning, actor=branch_manager, reason="重复操作")
    warning.refresh_from_db()
    assert (warning.status, warning.cleared_by, warning.cleared_reason) == (
        "cleared", compliance_officer, "执行已终结",
    )  # fmt: skip
    change = DataChange.objects.filter(table_name="compliance_riskwarning", op="U").get()
    assert change.actor_id == compliance_officer.pk
    assert change.changes["status"] == ["open", "cleared"]
    assert change.changes["cleared_reason"] == ["", "执行已终结"]
    assert not warnings.has_severe_warning(mapped.pk)


# ---- has_severe_warning and its SQL form ---------------------------------------------------


def test_has_severe_warning_agrees_with_its_sql_form(branch, rm):
    """Random customers with random warnings (kinds, severities, open, cleared, expired,
    past expiry but not yet swept), at random moments: the per-customer function and the
    set-based SQL give the same answer for every customer."""
    rng = random.Random(18)
    officer = factories.user(Role.COMPLIANCE_OFFICER, branch=branch)
    customers = [factories.customer(branch=branch, rm=rm) for _ in range(40)]
    kinds = ["court_enforcement", "litigation", "negative_news", "regulator_blacklist"]
    for n, customer in enumerate(customers):
        for k in rng.sample(kinds, rng.randrange(0, 3)):
            warnings.warning_signal_apply(signal=warnings.Signal(
                source="core", signal_id=f"{n}-{k}", customer_id=customer.pk, kind=k,
                severity=rng.choice([1, 2, 3]),
                occurred_at=NOW - timedelta(days=rng.randrange(0, 200)),
            ))  # fmt: skip
    for warning in RiskWarning.objects.filter(status="open").order_by("pk")[::4]:
        warnings.warning_clear(warning=warning, actor=officer, reason="核实无误")
    warnings.warnings_expire(at=NOW - timedelta(days=20))
    ids = [c.pk for c in customers]
    for at in [NOW, NOW + timedelta(days=rng.randrange(1, 200)), NOW - timedelta(days=10)]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.id, "
                + warnings.severe_warning_exists_sql("c.id", at_sql="%s")
                + " FROM customers_customer c WHERE c.id = ANY(%s)",
                [at, ids],
            )
            by_sql = dict(cursor.fetchall())
        by_function = {pk: warnings.has_severe_warning(pk, at=at) for pk in ids}
        assert by_sql == by_function
        assert any(by_sql.values()) and not all(by_sql.values())
    # The default column and moment, embedded as the suitability engine will.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM customers_customer WHERE customers_customer.id = ANY(%s) AND "
            + warnings.severe_warning_exists_sql(), [ids],
        )  # fmt: skip
        (count,) = cursor.fetchone()
    assert count == sum(warnings.has_severe_warning(pk) for pk in ids)
    assert (
        Customer.objects.filter(pk__in=ids).filter(warnings.severe_warning_exists()).count()
        == count
    )


def test_the_sql_form_probes_the_partial_index(mapped):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT 1 FROM customers_customer c WHERE c.id = %s AND "
            + warnings.severe_warning_exists_sql("c.id"), [mapped.pk],
        )  # fmt: skip
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "riskwarning_severe_open" in plan, plan


@pytest.mark.parametrize("column", ["c.id; DROP TABLE x", "id)", "1=1 OR c.id"])
def test_the_sql_form_takes_only_a_column_name(column):
    with pytest.raises(ValueError):
        warnings.severe_warning_exists_sql(column)


def test_the_simulator_emits_risk_signals_that_open_warnings(client, core, mapped):
    """The core-banking simulator's risk.signal events (plain JSON: customers/ does not
    import compliance) are valid, and their kinds are seeded kinds."""
    from customers.simulator import Generator

    generator = Generator(customers=2, risk_share=1.0, seed=3)
    events = []
    for seq in range(1, 11):
        type_, data, at = generator.next()
        assert type_ == "risk.signal"
        data["customer_ref"] = "C0000000001"
        events.append({"event_id": f"sim-{seq}", "sequence": seq, "type": type_,
                       "occurred_at": at.isoformat(), "data": data})  # fmt: skip
    push(client, core, *events)
    assert set(InboxEvent.objects.values_list("status", "error")) == {("applied", "")}
    assert RiskSignal.objects.count() == 10
    assert open_warnings(mapped)
