"""What sources send: an envelope (event id, sequence, type, time) around type-specific data.
The pydantic models validate each event and give the OpenAPI document its schemas; errors
carry a machine-readable code and the path of the field at fault.

What is accepted must be applicable: an event answered 202 and then refused by the database
would wait in the inbox for ever. So string lengths and decimal digits come from the columns
the values land in (tests/customers/test_ingest_limits.py walks every field and compares),
no text may hold NUL (PostgreSQL's text cannot), and times must lie in years Python can move
between time zones and show.
"""

import functools
import json
import operator
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bankcrm.validators import normalise_mobile
from customers.models import Account, Customer, ExternalIdentity, Product, Transaction
from customers.models.integration import InboxEvent

MAX_BATCH = 1000


def _currency(value: str) -> str:
    if value not in settings.SUPPORTED_CURRENCIES:
        raise PydanticCustomError(
            "unsupported_currency",
            "Currency {currency} is not supported (supported: {supported}).",
            {"currency": value, "supported": ", ".join(settings.SUPPORTED_CURRENCIES)},
        )
    return value


def _mobile(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalise_mobile(value)
    except DjangoValidationError:
        raise PydanticCustomError("invalid_mobile", "Not a valid mobile number.") from None


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        validate_email(value)
    except DjangoValidationError:
        raise PydanticCustomError("invalid_email", "Not a valid e-mail address.") from None
    return value


# PostgreSQL's text cannot hold U+0000: every free-text field refuses it (the others' patterns
# admit no control character at all).
NO_NUL = r"^[^\x00]*$"


def _length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


def _text(max_length: int, min_length: int | None = None, **extra) -> Any:
    return Field(min_length=min_length, max_length=max_length, pattern=NO_NUL, **extra)


def _money(model, name: str, *, positive: bool = False) -> Any:
    """The limits of a numeric(max_digits, decimal_places) column, checked by pydantic and
    told by the document: a number below 10^(whole digits), or a string of that form."""
    column = model._meta.get_field(name)
    whole, places = column.max_digits - column.decimal_places, column.decimal_places
    sign = "" if positive else "-?"

    def document(schema: dict) -> None:
        number, string = schema["anyOf"]
        number["exclusiveMaximum"] = 10**whole
        if not positive:
            number["exclusiveMinimum"] = -(10**whole)
        string["pattern"] = rf"^{sign}[0-9]{{1,{whole}}}(\.[0-9]{{1,{places}}})?$"

    return Field(
        max_digits=column.max_digits,
        decimal_places=places,
        gt=0 if positive else None,
        json_schema_extra=document,
    )


# Python's datetime ends at years 1 and 9999, where moving a time to UTC or showing it in
# Asia/Shanghai overflows; no event of a bank's systems lies near either end.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2199


def _in_range(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise PydanticCustomError(
            "out_of_range",
            "Times from {earliest} to {latest} are accepted.",
            {"earliest": EARLIEST_YEAR, "latest": LATEST_YEAR},
        )
    return value


Moment = Annotated[
    datetime,
    AfterValidator(_in_range),
    Field(description=f"A time in the years {EARLIEST_YEAR} to {LATEST_YEAR}."),
]

# The document lists the supported codes; a well-formed other code gets its own error code.
Currency = Annotated[
    str,
    Field(
        pattern=r"^[A-Z]{3}$",
        json_schema_extra=lambda schema: schema.update(enum=list(settings.SUPPORTED_CURRENCIES)),
    ),
    AfterValidator(_currency),
]
AccountNumber = Annotated[str, Field(min_length=6, max_length=34, pattern=r"^[0-9A-Za-z]+$")]
CustomerRef = Annotated[str, _text(_length(ExternalIdentity, "external_id"), min_length=1)]
# service.models.Ticket's columns (a lower app does not import a higher one; the limits test
# compares them).
TICKET_REF_LENGTH, TICKET_SUBJECT_LENGTH = 64, 200
# compliance.RiskSignal's and RiskWarningKind's columns, likewise.
RISK_SIGNAL_ID_LENGTH, RISK_KIND_LENGTH, RISK_REPORTER_LENGTH = 100, 40, 100
# A signal's evidence is kept as given (JSON): bounded, and without NUL, which PostgreSQL's
# jsonb cannot hold either.
EVIDENCE_MAX_CHARS = 10_000


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransactionPosted(_Data):
    """A booked transaction; `balance_after` (optional) updates the account's balance."""

    account_number: AccountNumber
    transaction_id: Annotated[str, _text(_length(Transaction, "external_id"), min_length=1)]
    amount: Annotated[Decimal, _money(Transaction, "amount", positive=True)]
    currency: Currency
    direction: Literal[tuple(Transaction.Direction.values)]  # type: ignore[valid-type]
    channel: Literal[tuple(Transaction.Channel.values)]  # type: ignore[valid-type]
    kind: Annotated[str, _text(_length(Transaction, "kind"), min_length=1)]
    # Stored masked, which keeps or shortens the length.
    counterparty: Annotated[str, _text(_length(Transaction, "counterparty_masked"))] | None = None
    booked_at: Moment | None = None  # default: the event's occurred_at
    balance_after: Annotated[Decimal, _money(Account, "balance")] | None = None


class BalanceChanged(_Data):
    """The account's balance as the source holds it at the event's time."""

    account_number: AccountNumber
    balance: Annotated[Decimal, _money(Account, "balance")]
    currency: Currency


class CustomerUpdated(_Data):
    """The customer's contact master data as the source holds it (a snapshot: the newest
    sequence wins, so late events never overwrite newer data)."""

    customer_ref: CustomerRef
    # Mainland numbers as the pattern says (others in E.164 with a +, checked on arrival);
    # stored in E.164, at most 16 characters.
    mobile: Annotated[
        str | None,
        _text(32, json_schema_extra={"pattern": r"^(\+86)?1(3[0-9]|5[0-35-9]|8[0-9])[0-9]{8}$"}),
        AfterValidator(_mobile),
    ] = None
    # Stored encrypted and masked; the mask keeps the length.
    email: Annotated[
        str | None,
        _text(_length(Customer, "email_masked"), json_schema_extra={"format": "email"}),
        AfterValidator(_email),
    ] = None
    # Stored encrypted (no column limit); the customer form's limit.
    address: Annotated[str, _text(200)] | None = None


# A catalogue product's code, as product.updated keys the catalogue by it.
ProductCode = Annotated[
    str, Field(min_length=1, max_length=_length(Product, "code"), pattern=r"^[A-Za-z0-9.\-]+$")
]


class AppActivity(_Data):
    """Customer behaviour in the mobile app; it appears on the 360 timeline. A product view
    names the product by its catalogue code (`product_code`, kept on the interaction:
    marketing's "viewed the same product three times in a week" counts views by it) and
    may give the name the app shows (`product`); a `product` that is a catalogue code is
    taken as the code when `product_code` is absent."""

    customer_ref: CustomerRef
    action: Literal["login", "product_view"]
    # Named in the interaction's subject ("Viewed a product in the app: …", 200 at most).
    product: Annotated[str, _text(100)] | None = None
    product_code: ProductCode | None = None


class ServiceRequested(_Data):
    """A customer's service request or complaint from the app or the web site: it opens a
    ticket (routing rules set priority and queue; the customer gets the ticket number by
    SMS). `request_id` is the channel's own id: the same request twice opens one ticket."""

    customer_ref: CustomerRef
    request_id: Annotated[str, _text(TICKET_REF_LENGTH, min_length=1)]
    channel: Literal["app", "web"]
    category: Literal[
        "card_lost", "card_fraud", "account", "complaint", "enquiry", "loan", "wealth", "other"
    ]
    subject: Annotated[str, _text(TICKET_SUBJECT_LENGTH, min_length=1)]
    description: Annotated[str, _text(5000)] = ""  # a text column


class ProductUpdated(_Data):
    """A catalogue product as the source holds it (a snapshot, keyed by `code`: a new code
    creates the product). The latest event wins by (occurred_at, sequence): a replayed or
    late event changes nothing. Fields left out take their defaults."""

    code: ProductCode
    name_zh: Annotated[str, _text(_length(Product, "name_zh"), min_length=1)]
    name_en: Annotated[str, _text(_length(Product, "name_en"))] = ""
    kind: Literal[tuple(Product.Kind.values)]  # type: ignore[valid-type]
    issuer: Annotated[str, _text(_length(Product, "issuer"))] = ""
    risk_level: Annotated[int, Field(ge=1, le=5)]
    currency: Currency = "CNY"
    min_amount: Annotated[Decimal, _money(Product, "min_amount")] = Decimal(0)
    term_days: Annotated[int, Field(gt=0, le=36500)] | None = None
    sale_starts: date | None = None
    sale_ends: date | None = None
    eligible_kinds: Literal[tuple(Product.Eligibility.values)] = "both"  # type: ignore[valid-type]
    min_tier: Literal[tuple(Customer.Tier.values)] = "mass"  # type: ignore[valid-type]
    private_placement: bool = False
    status: Literal[tuple(Product.Status.values)]  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _window(self):
        if self.min_amount < 0:
            raise PydanticCustomError("out_of_range", "min_amount cannot be negative.")
        if self.sale_starts and self.sale_ends and self.sale_ends < self.sale_starts:
            raise PydanticCustomError("out_of_range", "sale_ends is before sale_starts.")
        return self


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _evidence(value: dict) -> dict:
    for text in _strings(value):
        if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):
            raise PydanticCustomError(
                "invalid_character", "Text cannot contain NUL (U+0000) or unpaired surrogates."
            )
    if len(json.dumps(value, ensure_ascii=False)) > EVIDENCE_MAX_CHARS:
        raise PydanticCustomError(
            "out_of_range", "Evidence is at most {limit} characters of JSON.",
            {"limit": EVIDENCE_MAX_CHARS},
        )  # fmt: skip
    return value


class RiskSignalled(_Data):
    """Trouble a source system found for a customer: credit-bureau overdue, court
    enforcement or litigation (被执行人/涉诉), negative news, a regulator's blacklist... It
    opens or refreshes one risk warning per customer and kind (compliance/warnings.py).
    `signal_id` is the source's own id of the finding: the same finding sent again, under
    any event id, changes nothing. `kind` is a risk warning kind's code (Compliance › Risk
    warning kinds; an unknown code parks the event); `severity` defaults to the kind's;
    `occurred_at` (default: the event's) orders late signals, which never reopen a cleared
    warning or lower a severity."""

    customer_ref: CustomerRef
    signal_id: Annotated[str, _text(RISK_SIGNAL_ID_LENGTH, min_length=1)]
    kind: Annotated[str, Field(min_length=1, max_length=RISK_KIND_LENGTH, pattern=r"^[-a-z0-9_]+$")]
    severity: Literal["info", "warning", "severe"] | None = None
    source: Annotated[str, _text(RISK_REPORTER_LENGTH)] = ""  # who found it
    evidence: Annotated[dict[str, Any], AfterValidator(_evidence)] = Field(default_factory=dict)
    occurred_at: Moment | None = None


# compliance.suitability_models.Sale.reference (a lower app does not import a higher one; the
# limits test compares them).
SALE_REFERENCE_LENGTH = 32


class SaleConfirmed(_Data):
    """Core banking has booked a sale recorded in the CRM (compliance's Sale), under the
    reference the CRM gave it: the sale links to the account that holds it (created if it is
    new). A replayed or second confirmation changes nothing."""

    sale_reference: Annotated[
        str, Field(min_length=1, max_length=SALE_REFERENCE_LENGTH, pattern=r"^[A-Za-z0-9\-]+$")
    ]
    account_number: AccountNumber
    amount: Annotated[Decimal, _money(Account, "balance", positive=True)]
    currency: Currency


# marketing.models.Delivery.idempotency_key and receipt_detail (the limits test compares).
MESSAGE_KEY_LENGTH = 80
RECEIPT_DETAIL_LENGTH = 100


class MessageReceipt(_Data):
    """A message gateway's delivery receipt for a marketing message, named by the
    idempotency key it was sent with (the file provider writes it as `key`): `delivered`
    or `undelivered` with the gateway's detail (an error code). The newest receipt by the
    event's `occurred_at` stands; a replay changes nothing; a key the CRM never sent parks
    the event."""

    key: Annotated[str, Field(min_length=1, max_length=MESSAGE_KEY_LENGTH,
                              pattern=r"^[A-Za-z0-9:_\-]+$")]  # fmt: skip
    status: Literal["delivered", "undelivered"]
    detail: Annotated[str, _text(RECEIPT_DETAIL_LENGTH)] = ""


EVENT_TYPES: dict[str, type[_Data]] = {
    "transaction.posted": TransactionPosted,
    "balance.changed": BalanceChanged,
    "customer.updated": CustomerUpdated,
    "app.activity": AppActivity,
    "service.request": ServiceRequested,
    "product.updated": ProductUpdated,
    "risk.signal": RiskSignalled,
    "sale.confirmed": SaleConfirmed,
    "message.receipt": MessageReceipt,
}


def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise PydanticCustomError(
            "unknown_event_type",
            "Unknown event type {type} (known: {known}).",
            {"type": value, "known": ", ".join(EVENT_TYPES)},
        )
    return value


class EventIn(BaseModel):
    """One event. `occurred_at` without an offset is read in the source's time zone."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "event_id": "core-000000123",
                "sequence": 123,
                "type": "transaction.posted",
                "occurred_at": "2026-11-23T10:15:00+08:00",
                "data": {
                    "account_number": "6222020200112233445",
                    "transaction_id": "T-2026-000123",
                    "amount": "1250.00",
                    "currency": "CNY",
                    "direction": "debit",
                    "channel": "pos",
                    "kind": "card_payment",
                },
            }
        },
    )

    event_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=_length(InboxEvent, "event_id"),
            pattern=r"^[A-Za-z0-9._:\-]+$",
        ),
    ]
    sequence: Annotated[int, Field(gt=0, lt=2**63)]
    type: Annotated[str, _text(_length(InboxEvent, "event_type")), AfterValidator(_event_type)]
    occurred_at: Moment
    data: (
        TransactionPosted
        | BalanceChanged
        | CustomerUpdated
        | AppActivity
        | ServiceRequested
        | ProductUpdated
        | RiskSignalled
        | SaleConfirmed
        | MessageReceipt
    )


class _Envelope(EventIn):
    # Parsing reads the envelope first and the data by its type, for precise errors.
    data: dict[str, Any]


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[EventIn], Field(min_length=1, max_length=MAX_BATCH)]


class EventAccepted(BaseModel):
    event_id: str
    sequence: int
    result: Literal["accepted"]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail
    errors: list[ErrorDetail] = []


class BatchItemOut(BaseModel):
    index: int
    event_id: str | None
    status: int
    result: Literal["accepted", "rejected"]
    error: ErrorDetail | None = None


class BatchOut(BaseModel):
    accepted: int
    rejected: int
    results: list[BatchItemOut]


class SourceState(BaseModel):
    source: str
    last_sequence: int
    contiguous_sequence: int
    missing: int
    gaps: int
    pending: int
    parked: int
    failed: int
    latest_error: str
    last_received_at: datetime | None
    received_per_second: float
    lag_seconds: float


# ---- validation ---------------------------------------------------------------------------

_CODES = {"missing": "missing_field", "extra_forbidden": "unknown_field"}
_OWN_CODES = {
    "unsupported_currency",
    "unknown_event_type",
    "invalid_mobile",
    "invalid_email",
    "out_of_range",
    "invalid_character",
}


def error_details(exc: ValidationError, prefix: str = "") -> list[dict]:
    """pydantic's errors as {code, message, field}: our own codes and missing/unknown fields
    by name, every other constraint as `invalid_value`."""
    details = []
    for error in exc.errors(include_url=False):
        kind, message = error["type"], error["msg"]
        code = kind if kind in _OWN_CODES else _CODES.get(kind, "invalid_value")
        if kind == "string_pattern_mismatch" and error["ctx"]["pattern"] == NO_NUL:
            code, message = "invalid_character", "Text cannot contain NUL (U+0000)."
        elif kind == "string_unicode":  # a lone surrogate (\ud800-\udfff), not UTF-8
            code, message = "invalid_character", "Text cannot contain unpaired surrogates."
        field = ".".join([prefix, *map(str, error["loc"])] if prefix else map(str, error["loc"]))
        details.append({"code": code, "message": message, "field": field or None})
    return details


class EventError(Exception):
    def __init__(self, details: list[dict]):
        super().__init__(details[0]["message"])
        self.details = details


def parse_event(raw: Any) -> tuple[EventIn, _Data]:
    """The envelope, then the data by its type: errors name the field as `data.amount`."""
    if not isinstance(raw, dict):
        raise EventError(
            [{"code": "invalid_value", "message": "An event is a JSON object.", "field": None}]
        )
    try:
        event = _Envelope.model_validate(raw)
    except ValidationError as exc:
        raise EventError(error_details(exc)) from None
    try:
        data = EVENT_TYPES[event.type].model_validate(raw["data"])
    except ValidationError as exc:
        raise EventError(error_details(exc, "data")) from None
    return event, data


# A whole batch is validated in one call when all of it is valid (the usual case; storing a
# batch takes 85 instead of 94 µs an event); otherwise event by event, for precise errors.
_TYPED = tuple(
    create_model(
        f"_{data.__name__}Event",
        __base__=_Envelope,
        type=(Literal[event_type], ...),
        data=(data, ...),
    )
    for event_type, data in EVENT_TYPES.items()
)
_ALL_VALID = TypeAdapter(
    list[Annotated[functools.reduce(operator.or_, _TYPED), Field(discriminator="type")]]  # type: ignore[valid-type]
)


def parse_events(raws: list) -> list[tuple[EventIn, _Data] | EventError]:
    """Each event parsed (envelope, data), or the EventError that refuses it."""
    try:
        return [(event, event.data) for event in _ALL_VALID.validate_python(raws)]
    except ValidationError:
        pass
    parsed: list[tuple[EventIn, _Data] | EventError] = []
    for raw in raws:
        try:
            parsed.append(parse_event(raw))
        except EventError as exc:
            parsed.append(exc)
    return parsed
