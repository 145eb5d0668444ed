"""Segments: the field registry, the tree compiled to one query over the owner's scope, the
explanation in words, static lists from CIFs and snapshots."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone, translation

from bankcrm.audit import SYSTEM
from customers.models import Account, Customer, Transaction
from marketing import services
from marketing.audience import segment_customers
from marketing.models import Segment
from marketing.segments import SEGMENT_FIELDS, SegmentField, clean_tree, explain, number_q
from tests import factories
from tests.marketing.conftest import cond, consent, segment, tree

pytestmark = pytest.mark.django_db


def cifs(seg):
    return set(segment_customers(seg).values_list("cif", flat=True))


@pytest.fixture
def book(branch, other_branch, rm, other_rm):
    """Customers of two RMs and two branches, with holdings, transactions and consents."""
    today = timezone.localdate()
    a = factories.customer(
        branch=branch,
        rm=rm,
        cif="A1",
        tier="affluent",
        gender="F",
        birth_date=date(today.year - 40, 1, 1),
        tags=["vip", "golf"],
    )
    b = factories.customer(
        branch=branch,
        rm=rm,
        cif="B1",
        tier="mass",
        gender="M",
        birth_date=date(today.year - 25, 1, 1),
        risk_level=3,
        risk_expires_on=today + timedelta(days=10),
    )
    c = factories.customer(branch=branch, rm=other_rm, cif="C1", tier="affluent")
    d = factories.customer(branch=other_branch, cif="D1", tier="private")
    td = factories.account(
        a,
        kind=Account.Kind.TIME_DEPOSIT,
        balance=Decimal("500000"),
        matures_on=today + timedelta(days=20),
    )
    factories.account(b, kind=Account.Kind.CARD, balance=Decimal("900000"))
    for n in range(3):
        Transaction.objects.create(
            account=td,
            customer=a,
            booked_at=timezone.now() - timedelta(days=n * 5),
            amount=Decimal("100.00"),
            direction="debit",
            channel="mobile",
            kind="x",
            external_id=f"t{n}",
        )
    consent(a, "sms")
    consent(b, "all")
    consent(b, "sms", granted=False)
    factories.ticket(b, category="complaint")
    return {"a": a, "b": b, "c": c, "d": d}


def test_an_rms_segment_holds_only_their_book(book, rm, marketer):
    everyone = tree()
    assert cifs(segment(rm, everyone)) == {"A1", "B1"}
    assert cifs(segment(marketer, everyone)) == {"A1", "B1", "C1", "D1"}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond("tier", "in", ["affluent", "private"]), {"A1", "C1", "D1"}),
        (cond("tier", "not_in", ["mass"]), {"A1", "C1", "D1"}),
        (cond("age", "between", [30, 45]), {"A1"}),
        (cond("age", "lte", 30), {"B1"}),
        (cond("gender", "in", ["F"]), {"A1"}),
        (cond("tags", "in", "golf, tennis"), {"A1"}),
        (cond("risk_level", "in", [3]), {"B1"}),
        (cond("risk_expiry", "within", 30), {"B1"}),
        (cond("holds", "in", ["time_deposit"]), {"A1"}),
        (cond("holds", "not_in", ["time_deposit"]), {"B1", "C1", "D1"}),
        (cond("deposits", "gte", 100000), {"A1"}),  # a card's balance is a debt, not a deposit
        (cond("maturing", "within", 30), {"A1"}),
        (cond("maturing", "within", 10), set()),
        (cond("txn_count", "gte", 2, days=30), {"A1"}),
        (cond("txn_count", "lte", 0, days=30), {"B1", "C1", "D1"}),
        (cond("txn_count", "gte", 3, days=7), set()),
        (cond("txn_sum", "between", [250, 300], days=30), {"A1"}),
        (cond("last_activity", "within", 3), {"A1"}),
        (cond("last_activity", "not_within", 3), {"B1", "C1", "D1"}),
        (cond("txn_channel", "in", ["mobile"], days=30), {"A1"}),
        (cond("consent", "in", ["sms"]), {"A1"}),  # B withdrew SMS after granting all
        (cond("consent", "in", ["email"]), {"B1"}),
        (cond("consent", "not_in", ["sms"]), {"B1", "C1", "D1"}),
        (cond("open_complaint", "yes"), {"B1"}),
        (cond("open_complaint", "no"), {"A1", "C1", "D1"}),
    ],
)
def test_each_field(book, marketer, condition, expected):
    assert cifs(segment(marketer, tree(condition))) == expected


def test_and_or_not_groups(book, marketer):
    conditions = tree(
        cond("tier", "in", ["affluent", "mass"]),
        tree(cond("holds", "in", ["time_deposit"]), cond("open_complaint", "yes"), op="or"),
        tree(cond("gender", "in", ["M"]), op="not"),
    )
    assert cifs(segment(marketer, conditions)) == {"A1"}
    assert cifs(segment(marketer, tree(op="or"))) == set()  # any of nothing


def test_the_tree_is_checked(marketer):
    for bad in [
        cond("nope", "in", ["x"]),
        cond("tier", "gte", 3),
        cond("tier", "in", ["gold"]),
        cond("age", "gte", "old"),
        cond("txn_count", "gte", 1),  # no window
        cond("txn_count", "gte", 1, days=99999),
        {"op": "xor", "children": []},
        tree(tree(tree(tree(tree())))),
    ]:
        with pytest.raises(ValidationError):
            clean_tree(tree(bad))


def test_explanation_in_words_in_both_languages(marketer):
    t = clean_tree(
        tree(
            cond("tier", "in", ["affluent", "private"]),
            tree(cond("txn_count", "gte", 5, days=30), cond("maturing", "within", 15), op="or"),
            tree(cond("open_complaint", "yes"), op="not"),
        )
    )
    with translation.override("en"):
        assert explain(t) == (
            "Value tier is one of Affluent, Private banking and (Number of transactions is at "
            "least 5 (last 30 days) or A time deposit or wealth product matures falls within "
            "the next 15 days) and not (Has an open complaint)"
        )
    with translation.override("zh-hans"):
        text = explain(t)
        assert text.startswith("价值等级为富裕客户、私人银行，且（交易笔数不少于5（近30天），或")
        assert text.endswith("，且非（有未结投诉）")
    with translation.override("en"):
        assert explain(tree()) == "Every customer in scope"


def test_a_field_registered_by_a_higher_app_is_used_unchanged(book, marketer):
    """analytics registers a score without marketing changing (the registry is keyed)."""
    spec = SegmentField(
        "cif_length",
        "CIF length",
        "Scores",
        "number",
        number_q(__import__("django.db.models.functions", fromlist=["Length"]).Length("cif")),
    )
    SEGMENT_FIELDS.register(spec, key="cif_length")
    try:
        assert cifs(segment(marketer, tree(cond("cif_length", "gte", 2)))) == {
            "A1",
            "B1",
            "C1",
            "D1",
        }
        with translation.override("en"):
            assert "CIF length is at least 2" in explain(
                clean_tree(tree(cond("cif_length", "gte", 2)))
            )
    finally:
        del SEGMENT_FIELDS.by_key["cif_length"]


def test_count_is_kept_with_when_and_how_long(book, marketer):
    seg = segment(marketer, tree(cond("tier", "in", ["affluent"])))
    count, ms = services.segment_count(segment=seg)
    seg.refresh_from_db()
    assert (count, seg.last_count) == (2, 2) and seg.counted_at and seg.count_ms == ms


def test_static_list_from_cifs_only_in_scope(book, rm):
    seg = segment(rm, kind=Segment.Kind.STATIC)
    cif_list = services.parse_cifs('cif,name\n"A1",张\nC1\nD1\nA1\nZZ9\n')
    assert cif_list == ["A1", "C1", "D1", "ZZ9"]
    added, missing = services.segment_add_cifs(actor=rm, context=SYSTEM, segment=seg, cifs=cif_list)
    assert (added, missing) == (1, 3)  # C1 and D1 are not the RM's
    assert cifs(seg) == {"A1"}
    again = services.segment_add_cifs(actor=rm, context=SYSTEM, segment=seg, cifs=["A1"])
    assert again == (0, 0)


def test_snapshot_freezes_membership(book, marketer):
    seg = segment(marketer, tree(cond("tier", "in", ["affluent"])))
    snap = services.segment_freeze(actor=marketer, context=SYSTEM, segment=seg)
    Customer.objects.filter(cif="C1").update(tier="mass")
    factories.customer(branch=book["a"].branch, cif="E1", tier="affluent")
    assert cifs(snap) == {"A1", "C1"} and snap.last_count == 2
    assert cifs(seg) == {"A1", "E1"}
    assert Segment.objects.filter(kind="snapshot", frozen_at__isnull=False).count() == 1


def test_sample_is_masked(book, marketer):
    seg = segment(marketer, tree())
    sample = services.segment_sample(seg)
    assert [s["cif"] for s in sample] == ["A1", "B1", "C1", "D1"]
    assert all("*" in s["name"] and "*" in s["mobile_masked"] for s in sample)


def test_the_compiled_query_is_one_statement(book, marketer, django_assert_num_queries):
    seg = segment(
        marketer, tree(cond("txn_count", "gte", 1, days=30), cond("consent", "in", ["sms"]))
    )
    seg.owner = marketer  # the owner's roles are read once for the scope
    qs = segment_customers(seg)
    with django_assert_num_queries(1):
        assert qs.count() == 1
    assert isinstance(Q(), Q)
