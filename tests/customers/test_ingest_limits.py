"""What the integration API accepts fits where it lands. Every field of every event schema is
compared with the column it is stored in, so a column made shorter (or a field made longer)
fails here, not in the worker after a 202; and an event with every field at the longest the
document allows is applied, not only accepted."""

import json
import re
from decimal import Decimal

import pytest
from django.db import models

from compliance.models import RiskSignal, RiskWarning, RiskWarningKind, Sale
from customers.ingest import schemas
from customers.ingest.services import inbox_process, inbox_store
from customers.models import (
    Account,
    Customer,
    ExternalIdentity,
    Interaction,
    Product,
    Transaction,
)
from customers.models.integration import InboxEvent, IntegrationSource
from marketing.models import Delivery
from service.models import Ticket
from tests import factories

# Where each field lands. (model, column): stored as given or masked (a mask keeps or
# shortens the value), so its longest must fit the column; (model, column, longest): stored
# after a change that bounds it; a string: not stored in a column with a limit, and why.
LOOKED_UP = "looked up (by its blind index), stored nowhere"
LANDS = {
    ("EventIn", "event_id"): (InboxEvent, "event_id"),
    ("EventIn", "type"): (InboxEvent, "event_type"),
    ("EventIn", "occurred_at"): (InboxEvent, "occurred_at"),
    ("TransactionPosted", "account_number"): LOOKED_UP,
    ("TransactionPosted", "transaction_id"): (Transaction, "external_id"),
    ("TransactionPosted", "amount"): (Transaction, "amount"),
    ("TransactionPosted", "currency"): (Transaction, "currency"),
    ("TransactionPosted", "direction"): (Transaction, "direction"),
    ("TransactionPosted", "channel"): (Transaction, "channel"),
    ("TransactionPosted", "kind"): (Transaction, "kind"),
    ("TransactionPosted", "counterparty"): (Transaction, "counterparty_masked"),
    ("TransactionPosted", "booked_at"): (Transaction, "booked_at"),
    ("TransactionPosted", "balance_after"): (Account, "balance"),
    ("BalanceChanged", "account_number"): LOOKED_UP,
    ("BalanceChanged", "balance"): (Account, "balance"),
    ("BalanceChanged", "currency"): "compared with the account's currency",
    ("CustomerUpdated", "customer_ref"): (ExternalIdentity, "external_id"),
    # Normalised to E.164 first: a + and at most 15 digits.
    ("CustomerUpdated", "mobile"): (Customer, "mobile_masked", 16),
    ("CustomerUpdated", "email"): (Customer, "email_masked"),
    ("CustomerUpdated", "address"): "stored encrypted, in a text column",
    ("AppActivity", "customer_ref"): (ExternalIdentity, "external_id"),
    ("AppActivity", "action"): "chooses the interaction's subject",
    # Named in the subject after a short prefix; the worker cuts the subject to its column.
    ("AppActivity", "product"): (Interaction, "subject"),
    ("AppActivity", "product_code"): (Interaction, "product_code"),
    ("ServiceRequested", "customer_ref"): (ExternalIdentity, "external_id"),
    ("ServiceRequested", "request_id"): (Ticket, "external_ref"),
    ("ServiceRequested", "channel"): (Ticket, "channel"),
    ("ServiceRequested", "category"): (Ticket, "category"),
    ("ServiceRequested", "subject"): (Ticket, "subject"),
    ("ServiceRequested", "description"): (Ticket, "description"),
    ("ProductUpdated", "code"): (Product, "code"),
    ("ProductUpdated", "name_zh"): (Product, "name_zh"),
    ("ProductUpdated", "name_en"): (Product, "name_en"),
    ("ProductUpdated", "kind"): (Product, "kind"),
    ("ProductUpdated", "issuer"): (Product, "issuer"),
    ("ProductUpdated", "risk_level"): "an integer 1-5 (the schema's bounds and the column's check)",
    ("ProductUpdated", "currency"): (Product, "currency"),
    ("ProductUpdated", "min_amount"): (Product, "min_amount"),
    ("ProductUpdated", "term_days"): "an integer up to 36500, in an integer column",
    ("ProductUpdated", "sale_starts"): "a date, in a date column",
    ("ProductUpdated", "sale_ends"): "a date, in a date column",
    ("ProductUpdated", "eligible_kinds"): (Product, "eligible_kinds"),
    ("ProductUpdated", "min_tier"): (Product, "min_tier"),
    ("ProductUpdated", "private_placement"): "a boolean",
    ("ProductUpdated", "status"): (Product, "status"),
    ("RiskSignalled", "customer_ref"): (ExternalIdentity, "external_id"),
    ("RiskSignalled", "signal_id"): (RiskSignal, "signal_id"),
    ("RiskSignalled", "kind"): (RiskWarningKind, "code"),
    ("RiskSignalled", "severity"): "one of three words, stored as its rank 1-3",
    ("RiskSignalled", "source"): (RiskSignal, "reported_by"),
    ("RiskSignalled", "evidence"): "a JSON object of at most 10,000 characters, in a jsonb column",
    ("RiskSignalled", "occurred_at"): (RiskSignal, "occurred_at"),
    ("SaleConfirmed", "sale_reference"): (Sale, "reference"),
    ("SaleConfirmed", "account_number"): "looked up by its blind index; a new holding's "
    "number is stored encrypted, in a text column",
    ("SaleConfirmed", "amount"): (Account, "balance"),
    ("SaleConfirmed", "currency"): "compared with the sale's currency",
    ("MessageReceipt", "key"): (Delivery, "idempotency_key"),
    ("MessageReceipt", "status"): (Delivery, "receipt"),
    ("MessageReceipt", "detail"): (Delivery, "receipt_detail"),
}


def _fields() -> dict:
    """(schema name, field name) -> (its JSON schema, the pydantic field) of every field."""
    found = {}
    envelope = schemas.EventIn.model_json_schema()["properties"]
    for name, field in schemas.EventIn.model_fields.items():
        if name not in ("data", "sequence"):  # sequence: a bigint, bounded by the schema
            found["EventIn", name] = envelope[name], field
    for model in schemas.EVENT_TYPES.values():
        properties = model.model_json_schema()["properties"]
        for name, field in model.model_fields.items():
            found[model.__name__, name] = properties[name], field
    return found


FIELDS = _fields()


def _branches(prop: dict) -> list[dict]:
    """The non-null alternatives of a property, each with the property's own keywords."""
    own = {k: v for k, v in prop.items() if k != "anyOf"}
    return [{**own, **b} for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]


def _digits(field) -> tuple[int, int]:
    """max_digits and decimal_places of a Decimal field, optional or not."""
    found = list(field.metadata)
    for arg in getattr(field.annotation, "__args__", ()):
        for info in getattr(arg, "__metadata__", ()):
            found += getattr(info, "metadata", [])
    (digits,) = [m for m in found if getattr(m, "max_digits", None)]
    return digits.max_digits, digits.decimal_places


def test_every_field_says_where_it_lands():
    assert set(FIELDS) == set(LANDS), (
        "a field was added or removed: say in LANDS which column it lands in",
        set(FIELDS) ^ set(LANDS),
    )


@pytest.mark.parametrize(("schema", "name"), list(FIELDS), ids=[".".join(k) for k in FIELDS])
def test_a_field_fits_its_column(schema, name):
    prop, field = FIELDS[schema, name]
    where = LANDS[schema, name]
    column = None if isinstance(where, str) else where[0]._meta.get_field(where[1])
    if isinstance(column, models.DecimalField):
        assert _digits(field) == (column.max_digits, column.decimal_places), (
            f"{schema}.{name} and {where[0].__name__}.{where[1]} differ"
        )
        return
    strings = [b for b in _branches(prop) if b.get("type") == "string"]
    for branch in strings:
        if "enum" in branch or "const" in branch:
            continue
        if branch.get("format") in ("date-time", "date"):
            continue
        # Every free string is bounded and refuses NUL (PostgreSQL's text cannot hold it).
        assert "maxLength" in branch, f"{schema}.{name} has no maximum length"
        pattern = branch.get("pattern")
        assert pattern and not re.search(pattern, "a\x00b"), f"{schema}.{name} admits NUL"
    if column is None:
        return
    model, column_name, *longest = where
    if isinstance(column, models.DateTimeField):
        assert any(b.get("format") == "date-time" for b in strings)
        return
    if not isinstance(column, models.CharField):
        assert isinstance(column, models.TextField)  # no limit to compare
        return
    for branch in strings:
        values = branch.get("enum") or ([branch["const"]] if "const" in branch else None)
        if values is not None:
            assert max(map(len, values)) <= column.max_length, f"{schema}.{name}"
            if column.choices:
                assert set(values) <= {value for value, _label in column.flatchoices}
            continue
        stored = longest[0] if longest else branch["maxLength"]
        assert stored <= column.max_length, (
            f"{schema}.{name} takes {stored} characters, "
            f"{model.__name__}.{column_name} holds {column.max_length}"
        )


def test_the_event_types_fit_their_column():
    column = InboxEvent._meta.get_field("event_type")
    assert max(map(len, schemas.EVENT_TYPES)) <= column.max_length


# ---- the longest events are applied -------------------------------------------------------


def _longest(schema: type, name: str) -> int:
    (branch,) = _branches(schema.model_json_schema()["properties"][name])
    return branch["maxLength"]


def _text(schema: type, name: str) -> str:
    """As long as the document allows, in characters of three bytes each."""
    return ("交易对手" * 100)[: _longest(schema, name)]


def _email(length: int) -> str:
    local = "a" * min(64, length - 6)
    domain, left = [], length - len(local) - 1 - len(".cn")
    while left > 0:
        label = min(63, left if left <= 63 else left - 2)  # a dot and at least one more
        domain.append("b" * label)
        left -= label + 1
    return f"{local}@{'.'.join(domain)}.cn"


# The longest account number an account can have (its mask keeps the length); the API takes
# up to 34 (an IBAN's longest) and parks events for numbers no account has.
ACCOUNT = "6" * Account._meta.get_field("number_masked").max_length


@pytest.fixture
def source(db):
    return IntegrationSource.objects.create(code="app", name="App", kind="app")


def envelope(seq: int, type_: str, data: dict) -> dict:
    return {
        "event_id": ("e" * 64)[: -len(str(seq))] + str(seq),
        "sequence": seq,
        "type": type_,
        "occurred_at": "1900-01-01T00:00:00",  # the earliest, read in Asia/Shanghai
        "data": data,
    }


def test_an_event_with_every_field_at_its_longest_is_applied(source, branch, rm, desk):
    customer = factories.customer(branch=branch, rm=rm)
    ref = _text(schemas.CustomerUpdated, "customer_ref")
    request_ref = "R" * _longest(schemas.ServiceRequested, "request_id")
    ExternalIdentity.objects.create(source="app", external_id=ref, customer=customer)
    factories.account(customer, number=ACCOUNT)
    largest = "9" * 16 + ".99"
    email_length = _longest(schemas.CustomerUpdated, "email")
    events = [
        envelope(1, "transaction.posted", {
            "account_number": ACCOUNT,
            "transaction_id": _text(schemas.TransactionPosted, "transaction_id"),
            "amount": largest,
            "currency": "CNY",
            "direction": "credit",
            "channel": "transfer",
            "kind": _text(schemas.TransactionPosted, "kind"),
            "counterparty": _text(schemas.TransactionPosted, "counterparty"),
            "booked_at": "2199-12-31T23:59:59",  # the latest, read in Asia/Shanghai
            "balance_after": "-" + largest,
        }),
        envelope(2, "balance.changed", {
            "account_number": ACCOUNT, "balance": largest, "currency": "CNY",
        }),
        envelope(3, "customer.updated", {
            "customer_ref": ref,
            "mobile": "+8613912345678",
            "email": _email(email_length),
            "address": _text(schemas.CustomerUpdated, "address"),
        }),
        envelope(4, "app.activity", {
            "customer_ref": ref, "action": "product_view",
            "product": _text(schemas.AppActivity, "product"),
            "product_code": "C" * _longest(schemas.AppActivity, "product_code"),
        }),
        envelope(5, "service.request", {
            "customer_ref": ref,
            "request_id": request_ref,
            "channel": "app",
            "category": "complaint",
            "subject": _text(schemas.ServiceRequested, "subject"),
            "description": _text(schemas.ServiceRequested, "description"),
        }),
        envelope(6, "product.updated", {
            "code": "P" * _longest(schemas.ProductUpdated, "code"),
            "name_zh": _text(schemas.ProductUpdated, "name_zh"),
            "name_en": _text(schemas.ProductUpdated, "name_en"),
            "issuer": _text(schemas.ProductUpdated, "issuer"),
            "kind": "structured_deposit", "risk_level": 5, "min_amount": largest,
            "eligible_kinds": "individual", "min_tier": "affluent", "status": "suspended",
        }),
        envelope(7, "risk.signal", {
            "customer_ref": ref,
            "signal_id": _text(schemas.RiskSignalled, "signal_id"),
            "kind": "k" * _longest(schemas.RiskSignalled, "kind"),
            "severity": "severe",
            "source": _text(schemas.RiskSignalled, "source"),
            "evidence": {"note": "执" * (schemas.EVIDENCE_MAX_CHARS - 20)},
            "occurred_at": "2199-12-31T23:59:59",
        }),
    ]  # fmt: skip
    RiskWarningKind.objects.create(
        code="k" * _longest(schemas.RiskSignalled, "kind"), name_zh="测试", name_en="Test",
        action_zh="测试", validity_days=1,
    )  # fmt: skip
    assert len(_email(email_length)) == email_length
    outcomes = inbox_store(source=source, events=json.loads(json.dumps(events)))
    assert [o.status for o in outcomes] == [202] * len(events), [o.errors for o in outcomes]
    while inbox_process():
        pass
    assert dict(InboxEvent.objects.values_list("sequence", "error")) == dict.fromkeys(
        range(1, 8), ""
    )
    assert set(InboxEvent.objects.values_list("status", flat=True)) == {"applied"}
    booked = Transaction.objects.get()
    assert len(booked.counterparty_masked) == _longest(schemas.TransactionPosted, "counterparty")
    assert Account.objects.get().balance == Decimal(largest)
    customer.refresh_from_db()
    assert len(customer.email) == email_length
    assert Ticket.objects.get().external_ref == request_ref
    assert Product.objects.get().min_amount == Decimal(largest)
    assert RiskSignal.objects.get().warning == RiskWarning.objects.get()
