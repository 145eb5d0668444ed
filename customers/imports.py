"""Importing customers and holdings from CSV or Excel: read, check each row, then upsert.

A file is read into CSV text on upload. Checking runs every row through the same validators
as the forms and reports errors by line and column (never echoing an identifier). Commit
upserts the valid rows in chunks: customers by CIF, holdings by account number (blind
index), writes one audit row per created or changed object, and records its progress in the
chunk's own transaction, so a crashed worker resumes where it stopped and a second run of the
same file changes nothing.
"""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum.cn import ric

from bankcrm import crypto, masking
from bankcrm.audit import log_bulk_changes, set_audit_context
from bankcrm.models import Branch, User
from bankcrm.roles import Role
from bankcrm.validators import normalise_mobile, normalise_national_id, normalise_uscc
from customers import access
from customers.models import (
    ACCOUNT_NUMBER_INDEX,
    NATIONAL_ID_INDEX,
    Account,
    Customer,
    ImportBatch,
)

CHUNK = 500
MAX_ERRORS_KEPT = 500
PREVIEW_ROWS = 10


class FileError(Exception):
    """The file as a whole cannot be read (encoding, format, header)."""


# ---- reading ------------------------------------------------------------------------------


def read_upload(name: str, data: bytes) -> str:
    """CSV text from an uploaded .csv (UTF-8, with or without BOM, or GB18030 as Chinese
    Excel saves it) or .xlsx (first sheet)."""
    if name.lower().endswith(".xlsx"):
        return _xlsx_to_csv(data)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileError(_("The file is neither UTF-8 nor GB18030 text."))


def _xlsx_to_csv(data: bytes) -> str:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise FileError(_("The Excel file cannot be read.")) from exc
    out = io.StringIO()
    writer = csv.writer(out)
    for row in book.worksheets[0].iter_rows(values_only=True):
        writer.writerow(["" if v is None else _cell(v) for v in row])
    book.close()
    return out.getvalue()


def _cell(value) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rows(text: str) -> tuple[list[str], Iterator[list[str]]]:
    # The delimiter is whichever of , ; and tab the header line uses most: a header is
    # plain column names. (csv.Sniffer guesses from quoting patterns with backtracking
    # regular expressions; it is slow on some files and wrong on others.)
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FileError(_("The file is empty.")) from None
    return header, reader


# ---- columns ------------------------------------------------------------------------------

# Header names accepted for each column: the template's own, and the Chinese labels banks
# use in their spreadsheets.
CUSTOMER_COLUMNS = {
    "cif": ["cif", "客户号", "客户编号"],
    "kind": ["kind", "客户类型"],
    "name": ["name", "姓名", "客户名称", "名称"],
    "name_latin": ["name_latin", "拼音", "英文名"],
    "gender": ["gender", "性别"],
    "birth_date": ["birth_date", "出生日期"],
    "national_id": ["national_id", "证件号码", "身份证号", "统一社会信用代码"],
    "mobile": ["mobile", "手机号", "手机号码"],
    "email": ["email", "电子邮箱", "邮箱"],
    "address": ["address", "地址"],
    "occupation": ["occupation", "职业"],
    "employer": ["employer", "工作单位"],
    "income_band": ["income_band", "收入区间"],
    "family_status": ["family_status", "婚姻状况"],
    "branch_code": ["branch_code", "机构号", "网点代码"],
    "rm_username": ["rm_username", "客户经理"],
    "lifecycle": ["lifecycle", "客户状态"],
    "kyc_status": ["kyc_status", "KYC状态"],
    "kyc_expires_on": ["kyc_expires_on", "KYC到期日"],
    "tier": ["tier", "客户等级"],
    "tags": ["tags", "标签"],
}
CUSTOMER_REQUIRED = ("cif", "name", "branch_code")

HOLDING_COLUMNS = {
    "cif": ["cif", "客户号", "客户编号"],
    "kind": ["kind", "产品类型", "账户类型"],
    "number": ["number", "账号", "卡号"],
    "product_name": ["product_name", "产品名称"],
    "currency": ["currency", "币种"],
    "balance": ["balance", "余额"],
    "principal": ["principal", "本金"],
    "credit_limit": ["credit_limit", "额度"],
    "overdue_days": ["overdue_days", "逾期天数"],
    "risk_level": ["risk_level", "风险等级"],
    "opened_on": ["opened_on", "开户日期"],
    "matures_on": ["matures_on", "到期日"],
    "status": ["status", "状态"],
}
HOLDING_REQUIRED = ("cif", "kind", "number", "opened_on")

TEMPLATES = {
    ImportBatch.Kind.CUSTOMERS: list(CUSTOMER_COLUMNS),
    ImportBatch.Kind.HOLDINGS: list(HOLDING_COLUMNS),
}


def _map_header(header: list[str], columns: dict, required) -> dict[str, int]:
    lookup = {alias.strip().lower(): key for key, aliases in columns.items() for alias in aliases}
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        key = lookup.get(name.strip().lower())
        if key and key not in positions:
            positions[key] = i
    missing = [c for c in required if c not in positions]
    if missing:
        raise FileError(
            _("Required columns are missing: %(columns)s.") % {"columns": ", ".join(missing)}
        )
    return positions


# ---- row checks ---------------------------------------------------------------------------


class RowError(Exception):
    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column, self.message = column, str(message)


def _date(column: str, value: str) -> date | None:
    if not value:
        return None
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(value, fmt).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    raise RowError(column, _("Enter a date as YYYY-MM-DD."))


def _decimal(column: str, value: str, *, minimum: Decimal | None = Decimal(0)) -> Decimal | None:
    if not value:
        return None
    try:
        number = Decimal(value.replace(",", "").replace("¥", ""))
    except InvalidOperation:
        raise RowError(column, _("Enter a number.")) from None
    if not number.is_finite() or abs(number) >= Decimal("1e16"):
        raise RowError(column, _("Enter a number."))
    if minimum is not None and number < minimum:
        raise RowError(column, _("The amount cannot be negative."))
    return number.quantize(Decimal("0.01"))


def _choice(column: str, value: str, choices, default=None, aliases=None):
    if not value:
        if default is None:
            raise RowError(column, _("This column is required."))
        return default
    wanted = value.strip().lower()
    for key, label in choices:
        if wanted in (str(key).lower(), str(label).lower()):
            return key
    if aliases and wanted in aliases:
        return aliases[wanted]
    raise RowError(
        column,
        _("Unknown value; use one of: %(values)s.") % {"values": ", ".join(k for k, _l in choices)},
    )


def _text(column: str, value: str, max_length: int) -> str:
    if len(value) > max_length:
        raise RowError(
            column,
            _("At most %(n)d characters (this has %(len)d).")
            % {"n": max_length, "len": len(value)},
        )
    return value


_CIF_RE = re.compile(r"^[A-Za-z0-9-]{1,20}$")
_NUMBER_RE = re.compile(r"^\d{8,30}$")
_KIND_ALIASES = {"个人": "individual", "企业": "corporate", "对公": "corporate"}
_GENDER_ALIASES = {"男": "M", "女": "F", "male": "M", "female": "F"}


@dataclass
class Context:
    """What row checks need from the database, loaded once per batch."""

    user: User
    branches: dict[str, int]
    rms: dict[str, tuple[int, int | None]]  # username -> (pk, branch_id)
    all_branches: bool
    seen: set = field(default_factory=set)  # CIFs / account numbers already in this file
    seen_ids: dict = field(default_factory=dict)  # national_id blind index -> CIF in file

    @classmethod
    def for_user(cls, user: User) -> "Context":
        all_branches = access.imports_cover_all_branches(user)
        branches = Branch.objects.all()
        if not all_branches:
            branches = branches.filter(pk=user.branch_id)
        rms = User.objects.filter(
            is_active=True, groups__name=Role.RELATIONSHIP_MANAGER
        ).values_list("username", "pk", "branch_id")
        return cls(
            user=user,
            branches=dict(branches.values_list("code", "pk")),
            rms={u: (pk, b) for u, pk, b in rms},
            all_branches=all_branches,
        )


def check_customer(raw: dict[str, str], ctx: Context) -> dict:
    """The row's values in model form, or RowError on the first problem found."""
    cif = raw.get("cif", "").upper()
    if not _CIF_RE.match(cif):
        raise RowError("cif", _("A CIF number is 1–20 letters, digits or hyphens."))
    if cif in ctx.seen:
        raise RowError("cif", _("This CIF number appears earlier in the file."))
    kind = _choice("kind", raw.get("kind", ""), Customer.Kind.choices, "individual", _KIND_ALIASES)
    name = _text("name", raw.get("name", ""), 100)
    if not name:
        raise RowError("name", _("This column is required."))
    values = {
        "cif": cif,
        "kind": kind,
        "name": name,
        "name_latin": _text("name_latin", raw.get("name_latin", ""), 150),
        "gender": _choice(
            "gender", raw.get("gender", ""), Customer.Gender.choices, "U", _GENDER_ALIASES
        ),
        "birth_date": _date("birth_date", raw.get("birth_date", "")),
        "occupation": _text("occupation", raw.get("occupation", ""), 60),
        "employer": _text("employer", raw.get("employer", ""), 120),
        "income_band": _choice(
            "income_band", raw.get("income_band", ""), Customer.IncomeBand.choices, ""
        ),
        "family_status": _choice(
            "family_status", raw.get("family_status", ""), Customer.FamilyStatus.choices, ""
        ),
        "lifecycle": _choice(
            "lifecycle", raw.get("lifecycle", ""), Customer.Lifecycle.choices, "active"
        ),
        "kyc_status": _choice(
            "kyc_status", raw.get("kyc_status", ""), Customer.KycStatus.choices, "pending"
        ),
        "kyc_expires_on": _date("kyc_expires_on", raw.get("kyc_expires_on", "")),
        "tier": _choice("tier", raw.get("tier", ""), Customer.Tier.choices, "mass"),
        "tags": [t for t in re.split(r"[;；|，,]\s*", raw.get("tags", "")) if t][:20],
        "address": _text("address", raw.get("address", ""), 300) or None,
    }
    if any(len(t) > 30 for t in values["tags"]):
        raise RowError("tags", _("A tag is at most 30 characters."))

    national_id = raw.get("national_id", "")
    if national_id:
        try:
            if kind == Customer.Kind.CORPORATE:
                national_id = normalise_uscc(national_id)
            else:
                national_id = normalise_national_id(national_id)
        except ValidationError as exc:
            raise RowError("national_id", exc.messages[0]) from None
        if kind == Customer.Kind.INDIVIDUAL:
            born = ric.get_birth_date(national_id)
            if values["birth_date"] and values["birth_date"] != born:
                raise RowError("birth_date", _("The birth date does not match the ID number."))
            values["birth_date"] = born
        index = crypto.blind_index(national_id, purpose=NATIONAL_ID_INDEX)
        if index in ctx.seen_ids:
            raise RowError("national_id", _("This ID number appears earlier in the file."))
        ctx.seen_ids[index] = cif
    values["national_id"] = national_id or None

    mobile = raw.get("mobile", "")
    if mobile:
        try:
            mobile = normalise_mobile(mobile)
        except ValidationError as exc:
            raise RowError("mobile", exc.messages[0]) from None
    values["mobile"] = mobile or None
    email = raw.get("email", "").strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise RowError("email", _("Enter a valid e-mail address.")) from None
    values["email"] = email or None

    code = raw.get("branch_code", "")
    if code not in ctx.branches:
        raise RowError(
            "branch_code",
            _("Unknown branch code.") if ctx.all_branches else _("Not your branch."),
        )
    values["branch_id"] = ctx.branches[code]
    values["branch_code"] = code
    username = raw.get("rm_username", "")
    values["rm_username"] = username
    values["primary_rm_id"] = None
    if username:
        rm = ctx.rms.get(username)
        if rm is None:
            raise RowError("rm_username", _("No active relationship manager has this username."))
        if rm[1] != values["branch_id"]:
            raise RowError("rm_username", _("The relationship manager works in another branch."))
        values["primary_rm_id"] = rm[0]
    ctx.seen.add(cif)
    return values


def check_holding(raw: dict[str, str], ctx: Context) -> dict:
    cif = raw.get("cif", "").upper()
    if not _CIF_RE.match(cif):
        raise RowError("cif", _("A CIF number is 1–20 letters, digits or hyphens."))
    kind = _choice("kind", raw.get("kind", ""), Account.Kind.choices)
    number = re.sub(r"[\s-]", "", raw.get("number", ""))
    if not _NUMBER_RE.match(number):
        raise RowError("number", _("An account or card number is 8–30 digits."))
    if number in ctx.seen:
        raise RowError("number", _("This account number appears earlier in the file."))
    currency = (raw.get("currency", "") or "CNY").upper()
    if not re.match(r"^[A-Z]{3}$", currency):
        raise RowError("currency", _("Use a three-letter ISO currency code, e.g. CNY."))
    opened_on = _date("opened_on", raw.get("opened_on", ""))
    if opened_on is None:
        raise RowError("opened_on", _("This column is required."))
    matures_on = _date("matures_on", raw.get("matures_on", ""))
    if matures_on and matures_on < opened_on:
        raise RowError("matures_on", _("The maturity date is before the opening date."))
    overdue = raw.get("overdue_days", "") or "0"
    if not overdue.isdigit() or int(overdue) > 100000:
        raise RowError("overdue_days", _("Enter a whole number of days."))
    values = {
        "cif": cif,
        "kind": kind,
        "number": number,
        "product_name": _text("product_name", raw.get("product_name", ""), 100),
        "currency": currency,
        "balance": _decimal("balance", raw.get("balance", "")) or Decimal("0.00"),
        "principal": _decimal("principal", raw.get("principal", "")),
        "credit_limit": _decimal("credit_limit", raw.get("credit_limit", "")),
        "overdue_days": int(overdue),
        "risk_level": _choice(
            "risk_level", raw.get("risk_level", "").upper(), Account.RiskLevel.choices, ""
        ),
        "opened_on": opened_on,
        "matures_on": matures_on,
        "status": _choice("status", raw.get("status", ""), Account.Status.choices, "active"),
    }
    ctx.seen.add(number)
    return values


KINDS = {
    ImportBatch.Kind.CUSTOMERS: (CUSTOMER_COLUMNS, CUSTOMER_REQUIRED, check_customer),
    ImportBatch.Kind.HOLDINGS: (HOLDING_COLUMNS, HOLDING_REQUIRED, check_holding),
}


def iter_checked(batch: ImportBatch, ctx: Context):
    """(line number, values or None, RowError or None) for every data row of the file."""
    columns, required, check = KINDS[batch.kind]
    header, reader = _rows(batch.content or "")
    positions = _map_header(header, columns, required)
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        raw = {key: row[i].strip() if i < len(row) else "" for key, i in positions.items()}
        try:
            yield line, check(raw, ctx), None
        except RowError as error:
            yield line, None, error


def count_rows(text: str) -> int:
    _header, reader = _rows(text)
    return sum(1 for row in reader if any(cell.strip() for cell in row))


# ---- the batch's life ---------------------------------------------------------------------


def claim(batch_id: int, waiting: str, working: str, stale_after: int = 300) -> ImportBatch | None:
    """Move a batch from `waiting` (or a stale `working`) to `working`; None if another
    worker has it or it has moved on. One conditional UPDATE: two workers cannot both win."""
    now = timezone.now()
    stale = now - timezone.timedelta(seconds=stale_after)
    won = (
        ImportBatch.objects.filter(pk=batch_id)
        .filter(Q(status=waiting) | Q(status=working, heartbeat_at__lt=stale))
        .update(status=working, heartbeat_at=now)
    )
    return ImportBatch.objects.get(pk=batch_id) if won else None


def _fail(batch: ImportBatch, message: str) -> None:
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.FAILED, failure=message[:300], finished_at=timezone.now(),
        content=None,
    )  # fmt: skip


def validate(batch_id: int) -> None:
    """Check every row; store the error list and a masked preview; batch becomes READY.
    Rows are checked against the database a chunk at a time (one query per chunk), so a
    file is checked in bounded memory however many customers the bank has."""
    batch = claim(batch_id, ImportBatch.Status.PENDING, ImportBatch.Status.VALIDATING)
    if batch is None:
        return
    ctx = Context.for_user(batch.uploaded_by)
    errors, preview, valid, invalid, done = [], [], 0, 0, 0

    def settle(chunk):
        nonlocal valid, invalid
        for line, values, error in _check_against_database(batch, chunk):
            if error is None:
                valid += 1
                if len(preview) < PREVIEW_ROWS:
                    row = {"line": line, **_masked(batch.kind, values)}
                    preview.append([row[c] for c in PREVIEW_COLUMNS[batch.kind]])
            else:
                invalid += 1
                if len(errors) < MAX_ERRORS_KEPT:
                    errors.append({"line": line, "column": error.column, "message": error.message})
        ImportBatch.objects.filter(pk=batch.pk).update(
            processed_rows=done, heartbeat_at=timezone.now()
        )

    try:
        chunk = []
        for checked in iter_checked(batch, ctx):
            chunk.append(checked)
            done += 1
            if len(chunk) == CHUNK:
                settle(chunk)
                chunk = []
        settle(chunk)
    except FileError as exc:
        _fail(batch, str(exc))
        return
    ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.VALIDATING).update(
        status=ImportBatch.Status.READY, processed_rows=done, total_rows=done,
        valid_rows=valid, error_rows=invalid, errors=errors, preview=preview,
        heartbeat_at=timezone.now(),
    )  # fmt: skip


def _check_against_database(batch: ImportBatch, chunk):
    """The chunk's rows with the errors only the database can tell: an ID number held by
    another customer; holdings for a CIF the uploader may not reach."""
    rows = [values for _line, values, error in chunk if error is None]
    if batch.kind == ImportBatch.Kind.CUSTOMERS:
        indexes = {
            v["cif"]: crypto.blind_index(v["national_id"], purpose=NATIONAL_ID_INDEX)
            for v in rows
            if v["national_id"]
        }
        owners = dict(
            Customer.objects.filter(national_id_index__in=indexes.values()).values_list(
                "national_id_index", "cif"
            )
        )
        for line, values, error in chunk:
            if error is None and values["cif"] in indexes:
                owner = owners.get(indexes[values["cif"]])
                if owner is not None and owner != values["cif"]:
                    # Not which customer: the uploader may not be entitled to know.
                    error = RowError(
                        "national_id", _("This ID number belongs to another customer.")
                    )
            yield line, values, error
        return
    user = batch.uploaded_by
    known = Customer.objects.filter(cif__in={v["cif"] for v in rows})
    if not access.imports_cover_all_branches(user):
        known = known.filter(branch_id=user.branch_id)
    known = set(known.values_list("cif", flat=True))
    for line, values, error in chunk:
        if error is None and values["cif"] not in known:
            error = RowError("cif", _("No customer with this CIF number in your branch."))
        yield line, values, error


PREVIEW_COLUMNS = {
    ImportBatch.Kind.CUSTOMERS: ["line", "cif", "name", "kind", "national_id", "mobile",
                                 "tier", "branch_code", "rm_username"],
    ImportBatch.Kind.HOLDINGS: ["line", "cif", "kind", "number", "currency", "balance",
                                "opened_on", "status"],
}  # fmt: skip


def _masked(kind, values) -> dict:
    """The row as the preview shows it: identifiers masked. (Stored as a list per row:
    jsonb does not keep the order of an object's keys.)"""
    if kind == ImportBatch.Kind.CUSTOMERS:
        return {
            "cif": values["cif"],
            "name": values["name"],
            "kind": values["kind"],
            "national_id": masking.mask_national_id(values["national_id"]),
            "mobile": masking.mask_mobile(values["mobile"]),
            "tier": values["tier"],
            "branch_code": values["branch_code"],
            "rm_username": values["rm_username"],
        }
    number = values["number"]
    return {
        "cif": values["cif"],
        "kind": values["kind"],
        "number": Account.mask_number(values["kind"], number),
        "currency": values["currency"],
        "balance": str(values["balance"]),
        "opened_on": values["opened_on"].isoformat(),
        "status": values["status"],
    }


def request_commit(batch: ImportBatch) -> bool:
    return bool(
        ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.READY).update(
            status=ImportBatch.Status.COMMIT_PENDING, processed_rows=0
        )
    )


def commit(batch_id: int) -> None:
    """Upsert the valid rows chunk by chunk, resuming after the last committed chunk."""
    batch = claim(batch_id, ImportBatch.Status.COMMIT_PENDING, ImportBatch.Status.COMMITTING)
    if batch is None:
        return
    ctx = Context.for_user(batch.uploaded_by)
    # The rows are the uploader's writes in the audit trail.
    set_audit_context(actor_id=batch.uploaded_by_id, label=f"import:{batch.pk}")
    apply = _apply_customers if batch.kind == ImportBatch.Kind.CUSTOMERS else _apply_holdings
    resume_after = batch.processed_rows
    chunk: list[tuple[int, dict]] = []
    position = 0
    try:
        for line, values, _error in iter_checked(batch, ctx):
            position += 1
            if position <= resume_after:
                continue
            chunk.append((line, values))
            if len(chunk) == CHUNK:
                _commit_chunk(batch, apply, chunk)
                chunk = []
        if chunk:
            _commit_chunk(batch, apply, chunk)
    except FileError as exc:
        _fail(batch, str(exc))
        return
    ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.COMMITTING).update(
        status=ImportBatch.Status.DONE, finished_at=timezone.now(), content=None
    )


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list = field(default_factory=list)


def _commit_chunk(batch: ImportBatch, apply, chunk: list[tuple[int, dict | None]]) -> None:
    rows = [(line, values) for line, values in chunk if values is not None]
    outcome = Outcome(skipped=len(chunk) - len(rows))
    with transaction.atomic():
        try:
            with transaction.atomic():
                apply(batch, rows, outcome)
        except IntegrityError:
            # A row clashes with data written since the check (another import, a form):
            # apply row by row so only that row is skipped, with its reason.
            outcome = Outcome(skipped=len(chunk) - len(rows))
            for line, values in rows:
                try:
                    with transaction.atomic():
                        apply(batch, [(line, values)], outcome)
                except IntegrityError:
                    outcome.skipped += 1
                    outcome.errors.append(
                        {"line": line, "column": "", "message": _("Conflicts with existing data.")}
                    )
        updates = {
            "processed_rows": F("processed_rows") + len(chunk),
            "created_count": F("created_count") + outcome.created,
            "updated_count": F("updated_count") + outcome.updated,
            "unchanged_count": F("unchanged_count") + outcome.unchanged,
            "skipped_count": F("skipped_count") + outcome.skipped,
            "heartbeat_at": timezone.now(),
        }
        if outcome.errors:
            batch.refresh_from_db(fields=["errors"])
            updates["errors"] = (batch.errors + outcome.errors)[:MAX_ERRORS_KEPT]
        ImportBatch.objects.filter(pk=batch.pk).update(**updates)


CUSTOMER_FIELDS = [
    "kind", "name", "name_latin", "gender", "birth_date", "occupation", "employer",
    "income_band", "family_status", "lifecycle", "kyc_status", "kyc_expires_on", "tier",
    "tags", "address", "branch_id", "primary_rm_id",
]  # fmt: skip


def _apply_customers(batch: ImportBatch, rows, outcome: Outcome) -> None:
    existing = {
        c.cif: c
        for c in Customer.objects.select_for_update().filter(cif__in=[v["cif"] for _l, v in rows])
    }
    pairs, to_create, to_update = [], [], []
    for _line, values in rows:
        old = existing.get(values["cif"])
        new = Customer(cif=values["cif"], created_at=timezone.now())
        if old is not None:
            new.pk, new.created_at = old.pk, old.created_at
            for name in ["national_id", "national_id_index", "national_id_masked", "mobile",
                         "mobile_index", "mobile_masked", "email", "email_masked", "household_id",
                         "risk_level", "risk_expires_on"]:  # fmt: skip
                setattr(new, name, getattr(old, name))
        for name in CUSTOMER_FIELDS:
            value = values[name]
            # An empty optional cell keeps what the bank already has.
            if old is not None and value in (None, "", []) and name not in ("primary_rm_id",):
                value = getattr(old, name)
            setattr(new, name, value)
        if old is not None and not values["primary_rm_id"]:
            new.primary_rm_id = old.primary_rm_id
        if values["national_id"]:
            new.set_national_id(values["national_id"])
        if values["mobile"]:
            new.set_mobile(values["mobile"])
        if values["email"]:
            new.set_email(values["email"])
        if old is None:
            to_create.append(new)
        elif _differs(old, new, [*CUSTOMER_FIELDS, "national_id", "mobile", "email"]):
            to_update.append(new)
            pairs.append((old, new))
        else:
            outcome.unchanged += 1
    if to_create:
        Customer.objects.bulk_create(to_create)
    if to_update:
        for obj in to_update:
            obj.updated_at = timezone.now()
        Customer.objects.bulk_update(
            to_update,
            [*CUSTOMER_FIELDS, "national_id", "national_id_index", "national_id_masked",
             "mobile", "mobile_index", "mobile_masked", "email", "email_masked", "updated_at"],
        )  # fmt: skip
    outcome.created += len(to_create)
    outcome.updated += len(to_update)
    log_bulk_changes(
        [(None, obj) for obj in to_create] + pairs,
        actor=batch.uploaded_by, remote_addr=batch.uploaded_ip,
        additional_data={"import_batch": batch.pk},
    )  # fmt: skip


HOLDING_FIELDS = [
    "kind", "product_name", "currency", "balance", "principal", "credit_limit",
    "overdue_days", "risk_level", "opened_on", "matures_on", "status",
]  # fmt: skip


def _apply_holdings(batch: ImportBatch, rows, outcome: Outcome) -> None:
    indexes = {
        v["number"]: crypto.blind_index(v["number"], purpose=ACCOUNT_NUMBER_INDEX) for _l, v in rows
    }
    customers = dict(
        Customer.objects.filter(cif__in={v["cif"] for _l, v in rows}).values_list("cif", "pk")
    )
    existing = {
        a.number_index: a
        for a in Account.objects.select_for_update().filter(number_index__in=indexes.values())
    }
    pairs, to_create, to_update = [], [], []
    for line, values in rows:
        customer_id = customers.get(values["cif"])
        old = existing.get(indexes[values["number"]])
        if customer_id is None or (old is not None and old.customer_id != customer_id):
            outcome.skipped += 1
            message = (
                _("No customer with this CIF number in your branch.")
                if customer_id is None
                else _("This account belongs to another customer.")
            )
            outcome.errors.append({"line": line, "column": "cif", "message": message})
            continue
        new = Account(customer_id=customer_id)
        for name in HOLDING_FIELDS:
            setattr(new, name, values[name])
        new.set_number(values["number"])
        if old is None:
            to_create.append(new)
        else:
            new.pk = old.pk
            if _differs(old, new, HOLDING_FIELDS):
                to_update.append(new)
                pairs.append((old, new))
            else:
                outcome.unchanged += 1
    if to_create:
        Account.objects.bulk_create(to_create)
    if to_update:
        Account.objects.bulk_update(to_update, [*HOLDING_FIELDS, "number_masked"])
    outcome.created += len(to_create)
    outcome.updated += len(to_update)
    log_bulk_changes(
        [(None, obj) for obj in to_create] + pairs,
        actor=batch.uploaded_by, remote_addr=batch.uploaded_ip,
        additional_data={"import_batch": batch.pk},
    )  # fmt: skip


def _differs(old, new, names) -> bool:
    return any(getattr(old, n) != getattr(new, n) for n in names)
