"""Audit records as a compliance officer reads them: every kind of record (a sensitive
read, a data change, a sign-in or security event) becomes an Entry whose values are all
labelled, translated and formatted here, once, for the screens and the CSV exports alike.

- A changed column is named by its model field's verbose_name (the model is found through
  the app registry by its table), a detail key by a label of its own (DETAIL).
- Booleans read 是/否, choice codes their labels, stored times Beijing time to the second,
  encrypted columns "changed (not shown)".
- People and objects named by an id (an assignee, a rule, a device, the row a change is
  about) become Parts that are collected while a page's entries are built, fetched once
  per model for the whole page (Refs), then named and linked: a ticket by its SR number,
  a customer by name and CIF, a user by name and username.

A page therefore costs one query per kind of object it names, whatever its length."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from itertools import islice

from django import forms
from django.apps import apps
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from bankcrm import registry
from bankcrm.models import SecurityEvent, User
from bankcrm.roles import Role
from compliance import audited
from compliance.forms import AuditFilterForm
from compliance.models import AccessAlert, AccessRule, DataChange
from compliance.selectors import KIND_LABELS, READS, SECURITY, WRITES
from customers.forms import CustomerFilterForm
from customers.models import Customer, ImportBatch
from customers.models.integration import IntegrationSource

# ---- shown values ---------------------------------------------------------------------------


@dataclass(eq=False)
class Part:
    """A piece of a shown value: text, perhaps a link and a muted note (a username, a CIF).
    A person's or object's Part is filled in when the page's Refs are resolved."""

    text: str = ""
    url: str = ""
    note: str = ""
    obj: models.Model | None = None

    @property
    def plain(self) -> str:
        return f"{self.text} ({self.note})" if self.note else self.text


@dataclass
class Fact:
    label: str
    value: list[Part]


@dataclass
class Change:
    label: str
    old: list[Part] | None  # None: not shown (an encrypted column)
    new: list[Part]


def plain(value: list[Part]) -> str:
    return "".join(part.plain for part in value)


def _clauses() -> str:
    return pgettext("between clauses", "; ")


def _text(text) -> list[Part]:
    return [Part(str(text))]


def _joined(values: list[list[Part]], separator: str | None = None) -> list[Part]:
    """Values in a row: items of a list (、), or clauses (；) when `separator` is CLAUSES."""
    separator = pgettext("between items of a list", ", ") if separator is None else separator
    result = []
    for n, value in enumerate(values):
        if n:
            result.append(Part(separator))
        result += value
    return result


def _yes_no(value: bool) -> list[Part]:
    return _text(_("yes") if value else _("no"))


def _when(raw) -> list[Part]:
    """A stored time (ISO text from a JSON column) in Beijing time, to the second."""
    try:
        value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    except ValueError:
        return _text(raw)
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return _text(value.strftime("%Y-%m-%d %H:%M:%S"))


def _looks_like_time(raw: str) -> bool:
    return len(raw) >= 19 and raw[4] == "-" and raw[10] == "T" and raw[13] == ":"


def _plain_value(raw) -> list[Part]:
    """A value whose field is unknown: no literals, no True/False, no UTC ISO times."""
    if raw is None or raw == "":
        return _text(_("(empty)"))
    if isinstance(raw, bool):
        return _yes_no(raw)
    if isinstance(raw, str) and _looks_like_time(raw):
        return _when(raw)
    if isinstance(raw, list):
        return _joined([_plain_value(item) for item in raw]) if raw else _text(_("(empty)"))
    if isinstance(raw, dict):
        return _joined(
            [[Part(f"{key}: "), *_plain_value(value)] for key, value in raw.items()], _clauses()
        )
    return _text(raw)


# ---- people and objects named by id ---------------------------------------------------------


def _user(part: Part, user: User) -> None:
    part.text = user.display_name
    part.note = user.username if user.username != part.text else ""
    part.url = reverse("compliance:user-activity", args=[user.pk])


def _customer(part: Part, customer: Customer) -> None:
    part.text, part.note = customer.name, customer.cif
    part.url = reverse("compliance:customer-history", args=[customer.pk])


def _group(part: Part, group) -> None:
    part.text = _role(group.name)


def _role(name: str) -> str:
    return str(Role(name).label) if name in Role.values else name


PERMISSION_ACTIONS = {
    "view": gettext_lazy("View %(thing)s"),
    "add": gettext_lazy("Add %(thing)s"),
    "change": gettext_lazy("Change %(thing)s"),
    "delete": gettext_lazy("Delete %(thing)s"),
}


def _permission_text(codename: str, model=None) -> str:
    """view_customer -> 查看客户: Django stores permission names in English."""
    action, _sep, model_name = codename.partition("_")
    if model is None:
        model = next((m for m in apps.get_models() if m._meta.model_name == model_name), None)
    if action not in PERMISSION_ACTIONS or model is None:
        return codename
    return str(PERMISSION_ACTIONS[action]) % {"thing": model._meta.verbose_name}


def _permission(part: Part, permission) -> None:
    part.text = _permission_text(permission.codename, permission.content_type.model_class())


def _alert(part: Part, alert: AccessAlert) -> None:
    part.text = alert.rule.name
    part.note = timezone.localtime(alert.raised_at).strftime("%Y-%m-%d %H:%M")
    part.url = reverse("compliance:alert-detail", args=[alert.pk])


def _ticket(part: Part, ticket) -> None:
    part.text = ticket.number
    part.url = reverse("service:ticket-detail", args=[ticket.pk])


def _import(part: Part, batch: ImportBatch) -> None:
    part.text = batch.file_name
    part.url = reverse("customers:import-detail", args=[batch.pk])


def _device(part: Part, device) -> None:
    set_up = timezone.localtime(device.created_at).strftime("%Y-%m-%d") if device.created_at else ""
    part.text = _("authenticator app")
    part.note = _("set up %(date)s") % {"date": set_up} if set_up else ""


def _consent(part: Part, consent) -> None:
    decision = _("Granted") if consent.granted else _("Withdrawn")
    part.text = " · ".join([consent.get_purpose_display(), consent.get_channel_display(), decision])


def _sla_policy(part: Part, policy) -> None:
    category = policy.get_category_display() or _("all categories")
    part.text = f"{policy.get_priority_display()} · {category}"


def _delegation(part: Part, delegation) -> None:
    part.text = delegation.user.display_name
    part.url = reverse("compliance:user-activity", args=[delegation.user_id])
    part.note = _("until %(time)s") % {"time": plain(_when(delegation.expires_at))}


def _relationship(part: Part, relationship) -> None:
    part.text = f"{relationship.get_kind_display()} · {relationship.related.name}"
    part.note = relationship.related.cif


def _risk_profile(part: Part, profile) -> None:
    part.text = profile.get_level_display()
    part.note = timezone.localtime(profile.assessed_at).strftime("%Y-%m-%d")


def _questionnaire(part: Part, questionnaire) -> None:
    part.text = _("version %(version)s") % {"version": questionnaire.version}


def _inbox_event(part: Part, event) -> None:
    part.text = event.source.name
    part.note = _("event %(id)s") % {"id": event.event_id}


def _delivery(part: Part, delivery) -> None:
    part.text = delivery.subscriber.name
    part.note = delivery.event.get_event_type_display()


def _notification(part: Part, notification) -> None:
    part.text = notification.get_channel_display()
    part.note = notification.ticket.number if notification.ticket_id else ""


def _risk_warning(part: Part, warning) -> None:
    part.text = warning.kind.name


# How each kind of object is named (by model label; others by str()), and what its query
# reads with it. Tickets are service's: named through the app registry, not imported.
NAMERS = {
    "bankcrm.user": _user,
    "customers.customer": _customer,
    "auth.group": _group,
    "auth.permission": _permission,
    "compliance.accessalert": _alert,
    "service.ticket": _ticket,
    "customers.importbatch": _import,
    "otp_totp.totpdevice": _device,
    "customers.customerdelegation": _delegation,
    "customers.consent": _consent,
    "service.slapolicy": _sla_policy,
    "customers.relationship": _relationship,
    "customers.riskprofile": _risk_profile,
    "customers.riskquestionnaire": _questionnaire,
    "customers.inboxevent": _inbox_event,
    "customers.outbounddelivery": _delivery,
    "service.notification": _notification,
    "compliance.riskwarning": _risk_warning,
}
FETCH = {
    "customers.customer": lambda qs: qs.only("pk", "cif", "name", "tier"),
    "auth.permission": lambda qs: qs.select_related("content_type"),
    "compliance.accessalert": lambda qs: qs.select_related("rule"),
    "customers.customerdelegation": lambda qs: qs.select_related("user"),
    "customers.importbatch": lambda qs: qs.only("pk", "file_name"),
    "customers.relationship": lambda qs: qs.select_related("related"),
    "customers.inboxevent": lambda qs: qs.select_related("source").defer("payload"),
    "customers.outbounddelivery": lambda qs: qs.select_related("subscriber", "event"),
    "customers.riskquestionnaire": lambda qs: qs.only("pk", "version"),
    "service.notification": lambda qs: qs.select_related("ticket").defer("body"),
    "compliance.riskwarning": lambda qs: qs.select_related("kind").defer("evidence"),
}


class Refs:
    """The people and objects a page's entries name, fetched once per model for the whole
    page: `get()` while entries are built, then `resolve()` names every Part at once."""

    def __init__(self):
        self.parts: dict[tuple, Part] = {}

    def get(self, model, value, *, by: str = "pk", obj=None) -> Part:
        key = (model, by, str(value))
        part = self.parts.get(key)
        if part is None:
            part = self.parts[key] = Part()
        if obj is not None:
            part.obj = obj
        return part

    def resolve(self) -> None:
        wanted = defaultdict(lambda: defaultdict(set))
        for (model, by, value), part in self.parts.items():
            if part.obj is None and (valid := _valid(model, by, value)) is not None:
                wanted[model][by].add(valid)
        found = {}
        for model, keys in wanted.items():
            condition = Q()
            for by, values in keys.items():
                condition |= Q(**{f"{by}__in": values})
            query = FETCH.get(model._meta.label_lower, lambda qs: qs)(model._default_manager)
            for obj in query.filter(condition):
                for by in keys:
                    found[model, by, str(getattr(obj, by))] = obj
        for (model, by, value), part in self.parts.items():
            part.obj = part.obj or found.get((model, by, value))
            if part.obj is None:
                part.text = _("%(thing)s (no longer exists)") % {
                    "thing": capfirst(model._meta.verbose_name)
                }
                continue
            namer = NAMERS.get(model._meta.label_lower)
            if namer:
                namer(part, part.obj)
            else:
                part.text = str(part.obj)


def _valid(model, by: str, value: str):
    """The value as the column takes it, or None (an id of another shape, out of range)."""
    column = model._meta.pk if by == "pk" else model._meta.get_field(by)
    try:
        value = column.to_python(value)
    except ValidationError:
        return None
    if isinstance(value, int) and not 0 < value < 2**63:
        return None
    return value


# ---- tables and columns ---------------------------------------------------------------------

# What the screens call the objects of reads that are not a table's rows (the changed
# tables' names are in compliance/audited.py).
OBJECT_LABELS = {
    "customers.transactions": gettext_lazy("Transactions"),
    "customers.contact": gettext_lazy("Contact details"),
    "compliance.audit": gettext_lazy("Audit trail"),
    "compliance.customer_history": gettext_lazy("Access history"),
    "compliance.user_activity": gettext_lazy("User activity"),
}
# Columns whose field has no label of its own (join tables, django-guardian's fields).
COLUMN_LABELS = {
    "user_id": gettext_lazy("User"),
    "group_id": gettext_lazy("Role"),
    "queue_id": gettext_lazy("Queue"),
    "calendar_id": gettext_lazy("Business calendar"),
    "permission_id": gettext_lazy("Permission"),
    "content_object_id": gettext_lazy("Customer"),
}
# Codes stored in a column that has no choices, as a reader is told them.
VALUE_LABELS = {
    ("customers_inboxevent", "error"): {
        "unknown_customer": gettext_lazy("no customer is mapped to the source's id"),
        "unknown_account": gettext_lazy("no account has the source's number"),
        "currency_mismatch": gettext_lazy("the currency is not the account's"),
    },
}
TABLE_COLUMN_LABELS = {
    ("customers_customerdelegation", "user_id"): gettext_lazy("Colleague"),
    ("customers_customerdelegation", "permission_id"): gettext_lazy("Access"),
}


@cache
def _tables() -> dict[str, type[models.Model]]:
    return {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}


def model_for(name: str):
    """The model of a table (`service_ticket`) or of an object type (`customers.customer`)."""
    if name in _tables():
        return _tables()[name]
    try:
        return apps.get_model(name)
    except (LookupError, ValueError):
        return None


def object_label(name: str) -> str:
    if name in audited.BY_TABLE:
        return audited.label(name)
    if name in OBJECT_LABELS:
        return str(OBJECT_LABELS[name])
    model = model_for(name)
    return str(capfirst(model._meta.verbose_name)) if model else name


@cache
def _columns(model) -> dict[str, models.Field]:
    return {f.column: f for f in model._meta.concrete_fields}


def column_label(model, table: str, column: str) -> str:
    if (table, column) in TABLE_COLUMN_LABELS:
        return str(TABLE_COLUMN_LABELS[table, column])
    found = _columns(model).get(column) if model else None
    if found is not None and found._verbose_name is not None:
        return str(capfirst(found.verbose_name))
    return str(COLUMN_LABELS.get(column, column))


def _column_value(refs: Refs, model, table: str, column: str, raw) -> list[Part]:
    """A stored column value (from a DataChange's JSON) as its field shows it."""
    found = _columns(model).get(column) if model else None
    if raw is None or raw == "" or raw == [] or found is None:
        return _plain_value(raw)
    if text_of := registry.AUDIT_VALUE_TEXTS.get((table, column)):
        return _text(text_of(raw))
    if found.many_to_one:
        return [refs.get(found.related_model, raw)]
    if isinstance(raw, str) and raw in VALUE_LABELS.get((table, column), {}):
        return _text(VALUE_LABELS[table, column][raw])
    if (table, column) == ("auth_group", "name"):
        return _text(_role(raw))
    if isinstance(found, ArrayField) and isinstance(raw, list):
        choices = dict(found.base_field.flatchoices)
        return _joined([_text(choices.get(item, item)) for item in raw])
    if found.choices:
        return _text(dict(found.flatchoices).get(raw, raw))
    if isinstance(found, models.BooleanField):
        return _yes_no(bool(raw))
    if isinstance(found, models.DateTimeField):
        return _when(raw)
    if isinstance(found, models.TimeField) and isinstance(raw, str):
        return _text(raw[:5])  # opening hours to the minute: 23:59:59.999999 is 23:59
    return _plain_value(raw)


SECRET = "***"  # noqa: S105 - how the triggers write an encrypted column


def _secret_shown_elsewhere(model, changes: dict, column: str) -> bool:
    """An encrypted column or blind index whose masked copy is in the same change: the
    masked copy says what changed (national_id, national_id_index -> national_id_masked)."""
    if column.endswith("_index") and column.removesuffix("_index") in changes:
        return True
    fields = _columns(model) if model else {}
    mine = fields.get(column)
    return mine is not None and any(
        other != column
        and other in fields
        and fields[other].verbose_name == mine.verbose_name
        and changes[other] != [SECRET, SECRET]
        for other in changes
    )


def _ordered(model, columns) -> list[str]:
    order = {c: n for n, c in enumerate(_columns(model))} if model else {}
    return sorted(columns, key=lambda c: (order.get(c, len(order)), c))


def _changes(refs: Refs, row: DataChange, model) -> list[Change]:
    result = []
    for column in _ordered(model, row.changes):
        old, new = row.changes[column]
        if [old, new] == [SECRET, SECRET]:
            if _secret_shown_elsewhere(model, row.changes, column):
                continue
            old, new = None, _text(_("changed, encrypted (not shown)"))
        else:
            old = _column_value(refs, model, row.table_name, column, old)
            new = _column_value(refs, model, row.table_name, column, new)
        result.append(Change(column_label(model, row.table_name, column), old, new))
    return result


def _row_values(refs: Refs, row: DataChange, model) -> list[Fact]:
    """A creation's new values, or a deletion's old ones, without the empty ones and the id
    (the object column names the row)."""
    side = 1 if row.op == DataChange.Op.INSERT else 0
    facts = []
    for column in _ordered(model, row.changes):
        pair = row.changes[column]
        if column == "id" or pair[side] in (None, "", [], {}):
            continue
        if pair == [SECRET, SECRET]:
            if _secret_shown_elsewhere(model, row.changes, column):
                continue
            value = _text(_("recorded, encrypted (not shown)"))
        else:
            value = _column_value(refs, model, row.table_name, column, pair[side])
        facts.append(Fact(column_label(model, row.table_name, column), value))
    return facts


# ---- the detail of reads and security events ------------------------------------------------

SEARCHED_BY = {
    "national_id": gettext_lazy("ID number"),
    "mobile": gettext_lazy("mobile number"),
    "account": gettext_lazy("account number"),
    "cif": gettext_lazy("CIF number"),
    "ticket_intake": gettext_lazy("CIF or mobile number, to open a ticket"),
    "caller_lookup": gettext_lazy("CIF or mobile number, to open a ticket"),
}
REFUSALS = {
    404: gettext_lazy("not found: outside the user's scope, or no such record"),
    403: gettext_lazy("forbidden: the user's role may not do this"),
}
METHODS = {"GET": gettext_lazy("opening a page"), "POST": gettext_lazy("submitting a form")}
SHOWN = {"masked": gettext_lazy("masked values only")}
LOGOUT_REASONS = {
    "timeout": gettext_lazy("the session timed out"),
    "user": gettext_lazy("the user signed out"),
}
# The filters of the exports that are logged, by the object type the export logs.
FILTER_FORMS = {"customers.customer": CustomerFilterForm, "compliance.audit": AuditFilterForm}
FILTER_REFS = {"customer": Customer, "actor": User}


def _field_names(refs: Refs, value, context) -> list[Part]:
    model = context.get("model") or Customer
    names = value if isinstance(value, list) else [value]
    return _joined([_text(column_label(model, "", str(name))) for name in names])


def _count(refs: Refs, value, context) -> list[Part]:
    return _text(formats.number_format(value, force_grouping=True))


def _filter(refs: Refs, value, context) -> list[Part]:
    if not isinstance(value, dict) or not value:
        return _text(_("none (everything)"))
    form = FILTER_FORMS.get(context.get("object_type"))
    shown = []
    for key, raw in value.items():
        form_field = form.base_fields.get(key) if form else None
        label = capfirst(form_field.label) if form_field is not None else key
        if key in FILTER_REFS and form is AuditFilterForm:
            item = [refs.get(FILTER_REFS[key], raw)]
        elif isinstance(form_field, forms.BooleanField) or raw in ("True", "False"):
            item = _yes_no(raw == "True")
        elif form_field is not None and getattr(form_field, "choices", None):
            item = _text(_flat_choices(form_field.choices).get(raw, raw))
        else:
            item = _plain_value(raw)
        shown.append([Part(_("%(label)s: ") % {"label": label}), *item])
    return _joined(shown, _clauses())


def _flat_choices(choices) -> dict:
    flat = {}
    for key, label in choices:
        if isinstance(label, (list, tuple)):
            flat.update(_flat_choices(label))
        else:
            flat[key] = str(label)
    return flat


def _searched_by(refs: Refs, value, context) -> list[Part]:
    return _text(SEARCHED_BY.get(value, value))


def _user_ref(refs: Refs, value, context) -> list[Part]:
    return [refs.get(User, value)]


def _access(refs: Refs, value, context) -> list[Part]:
    return _text(_permission_text(str(value)))


def _alert_ref(refs: Refs, value, context) -> list[Part]:
    return [refs.get(AccessAlert, value)]


def _rule_ref(refs: Refs, value, context) -> list[Part]:
    return [refs.get(AccessRule, value)]


def _device_ref(refs: Refs, value, context) -> list[Part]:
    return [refs.get(apps.get_model("otp_totp", "TOTPDevice"), value)]


def _logout(refs: Refs, value, context) -> list[Part]:
    return _text(LOGOUT_REASONS.get(value, value))


def _refusal(refs: Refs, value, context) -> list[Part]:
    return _text(REFUSALS.get(value, value))


def _object_kind(refs: Refs, value, context) -> list[Part]:
    return _text(object_label(value) if value else _("a page"))


def _method(refs: Refs, value, context) -> list[Part]:
    return _text(METHODS.get(value, value))


def _shown(refs: Refs, value, context) -> list[Part]:
    return _text(SHOWN.get(value, value))


def _yes(refs: Refs, value, context) -> list[Part]:
    return _yes_no(bool(value))


def _time(refs: Refs, value, context) -> list[Part]:
    return _when(value)


# Every detail key the system writes: its label and how its value is shown. Keys left out
# of the screens are in SAID_ELSEWHERE.
DETAIL = {
    "field": (gettext_lazy("Identifier shown"), _field_names),
    "fields": (gettext_lazy("Identifiers shown"), _field_names),
    "by": (gettext_lazy("Searched by"), _searched_by),
    "match": (gettext_lazy("Matched by"), _searched_by),
    "shown": (gettext_lazy("Shown"), _shown),
    "status": (gettext_lazy("Refused as"), _refusal),
    "object_type": (gettext_lazy("Asked for"), _object_kind),
    "object_id": (gettext_lazy("Record number"), lambda refs, value, context: _text(value)),
    "path": (gettext_lazy("Page address"), lambda refs, value, context: _text(value)),
    "method": (gettext_lazy("While"), _method),
    "hits": (gettext_lazy("Customers found"), _count),
    "rows": (gettext_lazy("Rows exported"), _count),
    "filter": (gettext_lazy("Filter"), _filter),
    "sessions_ended": (gettext_lazy("Sessions ended"), _count),
    "locked_out": (gettext_lazy("Sign-in locked"), _yes),
    "failures": (gettext_lazy("Failed attempts"), _count),
    "device": (gettext_lazy("Device"), _device_ref),
    "alert": (gettext_lazy("Access alert"), _alert_ref),
    "rule": (gettext_lazy("Rule"), _rule_ref),
    "access": (gettext_lazy("Access"), _access),
    "expired_at": (gettext_lazy("Expired at"), _time),
    "granted_by": (gettext_lazy("Granted by"), _user_ref),
}
# Keys whose content the entry shows in its own columns: the customer of a history export
# (the customer column), a delegation (its user and customer), a freeze's reason (the
# reason column), a rule when its alert is named.
SAID_ELSEWHERE = {"history_of", "delegation", "reason"}


def _detail_facts(refs: Refs, detail: dict, context: dict) -> list[Fact]:
    facts = []
    for key, value in detail.items():
        if key in SAID_ELSEWHERE or (key == "rule" and "alert" in detail):
            continue
        label, shown = DETAIL.get(key, (key, lambda refs, value, context: _plain_value(value)))
        facts.append(Fact(str(label), shown(refs, value, context)))
    return facts


# ---- who did it, when it was not a person ---------------------------------------------------

JOBS = {
    "service.tasks.sweep_sla": gettext_lazy("SLA sweep"),
    "service.tasks.send_notifications": gettext_lazy("sending notifications"),
    "customers.tasks.process_inbox": gettext_lazy("applying events from source systems"),
    "customers.tasks.sweep_inbox": gettext_lazy("applying events from source systems"),
    "customers.tasks.validate_import": gettext_lazy("checking an import"),
    "customers.tasks.commit_import": gettext_lazy("importing"),
    "customers.tasks.resume_imports": gettext_lazy("importing"),
    "customers.tasks.dispatch_outbound": gettext_lazy("sending events to other systems"),
    "customers.tasks.publish_kyc_expiries": gettext_lazy("KYC expiry notices"),
    "customers.tasks.record_expired_delegations": gettext_lazy("recording expired delegations"),
    "compliance.tasks.verify_audit_chain": gettext_lazy("checking the audit chain"),
    "compliance.tasks.prune_recent_reads": gettext_lazy("pruning recent-read notes"),
    "bankcrm.tasks.record_heartbeat": gettext_lazy("heartbeat"),
}


def _change_source(refs: Refs, row: DataChange) -> list[Part]:
    """Who wrote a change besides (or instead of) a signed-in user: the label the writer
    set in the audit context (bankcrm.audit.set_audit_context)."""
    kind, _sep, rest = row.actor_label.partition(":")
    if kind == "task":
        job = JOBS.get(rest)
        return _text(_("scheduled job: %(job)s") % {"job": job} if job else _("scheduled job"))
    if kind == "import" and rest.isdigit():
        return [Part(_("import: ")), refs.get(ImportBatch, rest)]
    if kind == "source" and rest:
        return [Part(_("source system: ")), refs.get(IntegrationSource, rest, by="code")]
    if kind == "access-rule" and rest.isdigit():
        return [Part(_("access rule: ")), refs.get(AccessRule, rest)]
    if row.actor_id is not None:
        return []  # a signed-in user on the web ("web") or an upload
    return _text(_("system"))


def _event_source(row: SecurityEvent) -> list[Part]:
    if row.actor_id or row.kind in (SecurityEvent.Kind.LOGIN_FAILED, SecurityEvent.Kind.LOCKED_OUT):
        return []
    if row.kind == SecurityEvent.Kind.LOGOUT and row.detail.get("reason") == "timeout":
        return _text(_("session timed out"))
    if "rule" in row.detail:
        return _text(_("access rule"))
    return _text(_("system"))


# ---- entries --------------------------------------------------------------------------------


@dataclass(eq=False)
class Entry:
    kind: str
    pk: int
    at: datetime
    action: str
    actor: Part | None = None
    # Who acted when it was not (only) a person: a job, an import, a rule, the system.
    source: list[Part] = field(default_factory=list)
    subject: Part | None = None  # the account a security event is about
    object_kind: str = ""
    object: Part | None = None
    customer_part: Part | None = None  # the customer column (a Part for a deleted one)
    ip: str = ""
    request_id: str = ""
    reason: str = ""
    facts: list[Fact] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[self.kind])

    @property
    def customer(self) -> Customer | None:
        return self.customer_part.obj if self.customer_part else None


def _read(refs: Refs, row, common: dict, *, values: bool) -> Entry:
    model = model_for(row.object_type)
    detail = dict(row.detail)
    entry = Entry(
        **common, action=row.get_action_display(), reason=row.reason,
        actor=refs.get(User, row.actor_id, obj=row.actor),
        object_kind=object_label(row.object_type),
    )  # fmt: skip
    if "activity_of" in detail:
        entry.object_kind = object_label("compliance.user_activity")
        by = "pk" if isinstance(detail["activity_of"], int) else "username"
        entry.object = refs.get(User, detail.pop("activity_of"), by=by)
    elif "history_of" in detail:
        entry.object_kind = object_label("compliance.customer_history")
    elif (
        model is not None
        and row.object_id
        and not (model is Customer and row.object_id == str(row.customer_id))
    ):
        entry.object = refs.get(model, row.object_id)
    context = {"model": model, "object_type": row.object_type}
    entry.facts = _detail_facts(refs, detail, context)
    return entry


def _write(refs: Refs, row: DataChange, common: dict, *, values: bool) -> Entry:
    model = model_for(row.table_name)
    entry = Entry(
        **common, action=row.get_op_display(), object_kind=object_label(row.table_name),
        actor=refs.get(User, row.actor_id) if row.actor_id else None,
        source=_change_source(refs, row),
    )  # fmt: skip
    # Named unless it is a join row (its values say who and what), the row is gone, or it
    # is the customer the customer column names.
    named = model is not None and not model._meta.auto_created and row.op != DataChange.Op.DELETE
    if named and not (model is Customer and row.row_pk == str(row.customer_id)):
        entry.object = refs.get(model, row.row_pk)
    if values:
        if row.op == DataChange.Op.UPDATE:
            entry.changes = _changes(refs, row, model)
        else:
            entry.facts = _row_values(refs, row, model)
    return entry


def _event(refs: Refs, row: SecurityEvent, common: dict, *, values: bool) -> Entry:
    detail = dict(row.detail)
    entry = Entry(
        **common, action=row.get_kind_display(), source=_event_source(row),
        actor=refs.get(User, row.actor_id, obj=row.actor) if row.actor_id else None,
    )  # fmt: skip
    if row.user_id:
        entry.subject = refs.get(User, row.user_id, obj=row.user)
    elif row.username:
        entry.subject = Part(row.username, note=_("no such account"))
    if row.kind == SecurityEvent.Kind.LOGOUT:
        entry.facts = [Fact(_("Ended because"), _logout(refs, detail.pop("reason", ""), {}))]
    else:
        entry.reason = str(detail.get("reason", ""))
    entry.facts += _detail_facts(refs, detail, {})
    return entry


BUILDERS = {READS: _read, WRITES: _write, SECURITY: _event}


def entries_for(rows: list, *, values: bool = True) -> list[Entry]:
    """The rows (each tagged with its `audit_kind`) as entries, every person and object
    they name read in one query per model. Without `values`, a data change's values are
    left out (lists that show only who did what to which object)."""
    refs = Refs()
    result = []
    for row in rows:
        common = {
            "kind": row.audit_kind, "pk": row.pk, "at": row.at, "ip": row.ip_address or "",
            "request_id": row.request_id,
            "customer_part": refs.get(Customer, row.customer_id) if row.customer_id else None,
        }  # fmt: skip
        result.append(BUILDERS[row.audit_kind](refs, row, common, values=values))
    refs.resolve()
    return result


def iterate_entries(rows, chunk: int = 1000):
    """`entries_for()` over a stream of rows, a chunk at a time."""
    rows = iter(rows)
    while batch := list(islice(rows, chunk)):
        yield from entries_for(batch)


def csv_detail(entry: Entry) -> str:
    """An entry's facts and changes on one line, labelled, as the screens show them."""
    lines = [_("%(label)s: %(value)s") % {"label": f.label, "value": plain(f.value)}
             for f in entry.facts]  # fmt: skip
    for c in entry.changes:
        new = plain(c.new) if c.old is None else f"{plain(c.old)} → {plain(c.new)}"
        lines.append(_("%(label)s: %(value)s") % {"label": c.label, "value": new})
    return _clauses().join(lines)
