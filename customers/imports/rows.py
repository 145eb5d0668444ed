"""The columns of an import file and the checks of one row.

Each row goes through the same validators as the forms, then through the model's own limits
(_check_fits: max_length of every column written, masked copies included), so a row that
passes here also passes the INSERT. A RowError names the column, never the value.
"""

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from bankcrm import crypto
from bankcrm.models import Branch, User
from bankcrm.roles import Role
from bankcrm.validators import normalise_mobile, normalise_national_id, normalise_uscc
from customers import access
from customers.imports import files
from customers.imports.files import FileError, is_blank, read_records, too_many_rows, where
from customers.models import (
    NATIONAL_ID_INDEX,
    Account,
    Customer,
    ImportBatch,
    Product,
    ProductEligibility,
    ProductKind,
)

logger = logging.getLogger(__name__)

# ---- columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    label: object  # lazy: the template's header in the user's language
    aliases: tuple[str, ...] = ()  # other headers banks use
    required: bool = False
    hint: object = ""  # the format, on the upload page
    choices: type[models.TextChoices] | None = None


_DATE = gettext_lazy("A date, YYYY-MM-DD.")
_AMOUNT = gettext_lazy("An amount, e.g. 1234.56.")

CUSTOMER_COLUMNS = (
    Column("cif", pgettext_lazy("import column", "CIF number"), ("cif", "客户号", "客户编号"),
           required=True, hint=gettext_lazy("1–20 letters, digits or hyphens.")),
    Column("kind", pgettext_lazy("import column", "Customer type"), ("kind", "客户类型"),
           choices=Customer.Kind),
    Column("name", pgettext_lazy("import column", "Name"),
           ("name", "姓名", "客户名称", "名称"), required=True),
    Column("name_latin", pgettext_lazy("import column", "Name in pinyin"),
           ("name_latin", "拼音", "英文名")),
    Column("gender", pgettext_lazy("import column", "Gender"), ("gender", "性别"),
           choices=Customer.Gender),
    Column("birth_date", pgettext_lazy("import column", "Birth date"),
           ("birth_date", "出生日期"), hint=_DATE),
    Column("national_id", pgettext_lazy("import column", "ID number"),
           ("national_id", "证件号码", "身份证号", "统一社会信用代码"),
           hint=gettext_lazy("Resident ID number (18 characters), or a corporate's unified "
                             "social credit code.")),
    Column("mobile", pgettext_lazy("import column", "Mobile"), ("mobile", "手机号", "手机号码"),
           hint=gettext_lazy("A mainland mobile number, or + and the country code.")),
    Column("email", pgettext_lazy("import column", "E-mail"), ("email", "电子邮箱", "邮箱")),
    Column("address", pgettext_lazy("import column", "Address"), ("address", "地址")),
    Column("occupation", pgettext_lazy("import column", "Occupation"), ("occupation", "职业")),
    Column("employer", pgettext_lazy("import column", "Employer"), ("employer", "工作单位")),
    Column("income_band", pgettext_lazy("import column", "Income band"),
           ("income_band", "收入区间"), choices=Customer.IncomeBand),
    Column("family_status", pgettext_lazy("import column", "Marital status"),
           ("family_status", "婚姻状况"), choices=Customer.FamilyStatus),
    Column("branch_code", pgettext_lazy("import column", "Branch code"),
           ("branch_code", "机构号", "网点代码"), required=True,
           hint=gettext_lazy("Your branch's code (administrators: any branch).")),
    Column("rm_username", pgettext_lazy("import column", "Relationship manager"),
           ("rm_username", "客户经理"),
           hint=gettext_lazy("The username of a relationship manager of that branch.")),
    Column("lifecycle", pgettext_lazy("import column", "Customer status"),
           ("lifecycle", "客户状态"), choices=Customer.Lifecycle),
    Column("kyc_status", pgettext_lazy("import column", "KYC status"),
           ("kyc_status", "KYC状态"), choices=Customer.KycStatus),
    Column("kyc_expires_on", pgettext_lazy("import column", "KYC expiry date"),
           ("kyc_expires_on", "KYC到期日"), hint=_DATE),
    Column("tier", pgettext_lazy("import column", "Value tier"), ("tier", "客户等级"),
           choices=Customer.Tier),
    Column("tags", pgettext_lazy("import column", "Tags"), ("tags", "标签"),
           hint=gettext_lazy("Separated by ; or , (at most 20 tags of 30 characters).")),
)  # fmt: skip

HOLDING_COLUMNS = (
    Column("cif", pgettext_lazy("import column", "CIF number"), ("cif", "客户号", "客户编号"),
           required=True, hint=gettext_lazy("A customer of your branch.")),
    Column("kind", pgettext_lazy("import column", "Product type"),
           ("kind", "产品类型", "账户类型"), required=True, choices=Account.Kind),
    Column("number", pgettext_lazy("import column", "Account number"),
           ("number", "账号", "卡号"), required=True, hint=gettext_lazy("8–30 digits.")),
    Column("product_name", pgettext_lazy("import column", "Product name"),
           ("product_name", "产品名称")),
    Column("currency", pgettext_lazy("import column", "Currency"), ("currency", "币种"),
           hint=gettext_lazy("A three-letter code; CNY if empty.")),
    Column("balance", pgettext_lazy("import column", "Balance"), ("balance", "余额"),
           hint=_AMOUNT),
    Column("principal", pgettext_lazy("import column", "Principal"), ("principal", "本金"),
           hint=_AMOUNT),
    Column("credit_limit", pgettext_lazy("import column", "Credit limit"),
           ("credit_limit", "额度"), hint=_AMOUNT),
    Column("overdue_days", pgettext_lazy("import column", "Days overdue"),
           ("overdue_days", "逾期天数"), hint=gettext_lazy("A whole number of days.")),
    Column("risk_level", pgettext_lazy("import column", "Product risk"),
           ("risk_level", "风险等级"), choices=Account.RiskLevel),
    Column("opened_on", pgettext_lazy("import column", "Opened on"),
           ("opened_on", "开户日期"), required=True, hint=_DATE),
    Column("matures_on", pgettext_lazy("import column", "Matures on"),
           ("matures_on", "到期日"), hint=_DATE),
    Column("status", pgettext_lazy("import column", "Status"), ("status", "状态"),
           choices=Account.Status),
)  # fmt: skip

PRODUCT_COLUMNS = (
    Column("code", pgettext_lazy("import column", "Product code"),
           ("code", "产品代码", "产品编号"), required=True,
           hint=gettext_lazy("1–32 letters, digits, hyphens or dots; a known code updates "
                             "that product.")),
    Column("name_zh", pgettext_lazy("import column", "Name (Chinese)"),
           ("name_zh", "产品名称"), required=True),
    Column("name_en", pgettext_lazy("import column", "Name (English)"),
           ("name_en", "英文名称")),
    Column("kind", pgettext_lazy("import column", "Product type"),
           ("kind", "产品类型"), required=True, choices=ProductKind),
    Column("issuer", pgettext_lazy("import column", "Issuer"), ("issuer", "发行机构")),
    Column("risk_level", pgettext_lazy("import column", "Risk level"),
           ("risk_level", "风险等级"), required=True,
           hint=gettext_lazy("R1 to R5 (or 1 to 5).")),
    Column("currency", pgettext_lazy("import column", "Currency"), ("currency", "币种"),
           hint=gettext_lazy("A three-letter code; CNY if empty.")),
    Column("min_amount", pgettext_lazy("import column", "Minimum amount"),
           ("min_amount", "起购金额"), hint=_AMOUNT),
    Column("term_days", pgettext_lazy("import column", "Term (days)"),
           ("term_days", "期限天数"), hint=gettext_lazy("A whole number of days.")),
    Column("sale_starts", pgettext_lazy("import column", "On sale from"),
           ("sale_starts", "销售起始日"), hint=_DATE),
    Column("sale_ends", pgettext_lazy("import column", "On sale until"),
           ("sale_ends", "销售截止日"), hint=_DATE),
    Column("eligible_kinds", pgettext_lazy("import column", "Who may buy"),
           ("eligible_kinds", "销售对象"), choices=ProductEligibility),
    Column("min_tier", pgettext_lazy("import column", "Minimum customer tier"),
           ("min_tier", "最低客户等级"), choices=Customer.Tier),
    Column("private_placement", pgettext_lazy("import column", "Private placement"),
           ("private_placement", "私募"), hint=gettext_lazy("Yes or no; no if empty.")),
    Column("status", pgettext_lazy("import column", "Status"), ("status", "状态"),
           choices=Product.Status),
)  # fmt: skip

COLUMNS = {
    ImportBatch.Kind.CUSTOMERS: CUSTOMER_COLUMNS,
    ImportBatch.Kind.HOLDINGS: HOLDING_COLUMNS,
    ImportBatch.Kind.PRODUCTS: PRODUCT_COLUMNS,
}


def column_labels(kind: str) -> dict[str, str]:
    """Column key → its label in the current language ("" stays "": a whole-row error)."""
    return {"": "", **{column.key: str(column.label) for column in COLUMNS[kind]}}


def column_help(kind: str) -> list[tuple[str, bool, str]]:
    """(label, required, format) of each column, for the upload page."""
    rows = []
    for column in COLUMNS[kind]:
        hint = str(column.hint)
        if column.choices is not None:
            hint = _("One of: %(values)s.") % {"values": _labels(column.choices)}
        rows.append((str(column.label), column.required, hint))
    return rows


def template_header(kind: str) -> list[str]:
    return [str(column.label) for column in COLUMNS[kind]]


def _header_key(name: str) -> str:
    return "".join(name.split()).lower()


@functools.cache
def _header_lookup(kind: str) -> dict[str, str]:
    """Accepted header → column key: the key, the aliases and the label in every language,
    so a template downloaded in either language reads back."""
    lookup: dict[str, str] = {}
    for column in COLUMNS[kind]:
        names = [column.key, *column.aliases]
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                names.append(str(column.label))
        for name in names:
            lookup.setdefault(_header_key(name), column.key)
    return lookup


def map_header(header: list[str], kind: str) -> dict[str, int]:
    lookup = _header_lookup(kind)
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        key = lookup.get(_header_key(name.lstrip("\ufeff")))
        if key and key not in positions:
            positions[key] = i
    missing = [c for c in COLUMNS[kind] if c.required and c.key not in positions]
    if missing:
        raise FileError(
            _("Required columns are missing: %(columns)s.")
            % {"columns": ", ".join(str(column.label) for column in missing)}
        )
    return positions


# ---- row checks ---------------------------------------------------------------------------


class RowError(Exception):
    def __init__(self, column: str, message):
        super().__init__(column)  # never the message's values in a traceback
        self.column, self.message = column, str(message)


# PostgreSQL text cannot hold NUL; lone surrogates cannot be encoded to UTF-8.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def check_cells(raw: dict[str, str]) -> None:
    for column, value in raw.items():
        if len(value) > files.MAX_CELL_CHARS:
            raise RowError(
                column,
                _("The cell has %(len)s characters; at most %(max)s.")
                % {"len": f"{len(value):,}", "max": f"{files.MAX_CELL_CHARS:,}"},
            )
        if UNSTORABLE.search(value):
            raise RowError(
                column, _("The cell holds a character that cannot be stored (NUL or broken).")
            )


def _date(raw: dict, column: str) -> date | None:
    value = raw.get(column, "")
    if not value:
        return None
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(value, fmt).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    raise RowError(column, _("Enter a date as YYYY-MM-DD."))


def _decimal(raw: dict, column: str, *, minimum=Decimal(0), model=Account) -> Decimal | None:
    """An amount that fits the model's column of the same name (max_digits, places)."""
    value, limits = raw.get(column, ""), model._meta.get_field(column)
    if not value:
        return None
    try:
        number = Decimal(value.replace(",", "").replace("¥", ""))
    except InvalidOperation:
        raise RowError(column, _("Enter a number.")) from None
    whole_digits = limits.max_digits - limits.decimal_places
    if not number.is_finite() or abs(number) >= Decimal(10) ** whole_digits:
        raise RowError(column, _("Enter a number."))
    if minimum is not None and number < minimum:
        raise RowError(column, _("The amount cannot be negative."))
    return number.quantize(Decimal(1).scaleb(-limits.decimal_places))


def _labels(choices: type[models.TextChoices]) -> str:
    return ", ".join(str(label) for _value, label in choices.choices)


@functools.cache
def _choice_lookup(choices: type[models.TextChoices]) -> dict[str, str]:
    """A choice's value and its label in every language → the value."""
    lookup = {}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            lookup.update({str(label).lower(): value for value, label in choices.choices})
    lookup.update({value.lower(): value for value in choices.values})
    return lookup


def _choice(raw: dict, column: str, choices, default=None, aliases=None):
    value = raw.get(column, "")
    if not value:
        if default is None:
            raise RowError(column, _("This column is required."))
        return default
    wanted = value.strip().lower()
    found = _choice_lookup(choices).get(wanted) or (aliases or {}).get(wanted)
    if found is None:
        message = _("Unknown value; use one of: %(values)s.") % {"values": _labels(choices)}
        raise RowError(column, message)
    return found


def _text(raw: dict, column: str, model=Customer, *, max_length: int | None = None) -> str:
    """The cell, at most as long as the model's column of the same name."""
    value = raw.get(column, "")
    limit = max_length or _max_length(model, column)
    if len(value) > limit:
        raise RowError(
            column,
            _("At most %(n)d characters (this has %(len)d).") % {"n": limit, "len": len(value)},
        )
    return value


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


def _check_fits(obj: models.Model, sources: dict[str, str]) -> None:
    """RowError unless every value taken from the file fits its column as the model declares
    it, masked copies included: what passes here also passes the INSERT. `sources` maps a
    model field to the file column its value comes from."""
    for model_field in obj._meta.concrete_fields:
        column = sources.get(model_field.name)
        value = getattr(obj, model_field.attname)
        if column is None or value is None:
            continue
        values = value if isinstance(model_field, ArrayField) else [value]
        limit = (
            model_field.base_field.max_length
            if isinstance(model_field, ArrayField)
            else model_field.max_length
        )
        for item in values:
            if isinstance(item, str) and limit and len(item) > limit:
                raise RowError(column, _("Too long: at most %(n)d characters.") % {"n": limit})


_KIND_ALIASES = {"个人": "individual", "企业": "corporate", "对公": "corporate"}
_GENDER_ALIASES = {"男": "M", "女": "F", "male": "M", "female": "F"}
_NUMBER_RE = re.compile(r"\d{8,30}")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
MAX_TAGS = 20

OUTSIDE_SCOPE = gettext_lazy(
    "This CIF number belongs to a customer outside your branch: an import cannot change or "
    "move that customer."
)
NO_CUSTOMER = gettext_lazy("No customer with this CIF number in your branch.")
ID_TAKEN = gettext_lazy("This ID number belongs to another customer.")
ACCOUNT_TAKEN = gettext_lazy("This account belongs to another customer.")


@dataclass
class Context:
    """What row checks need from the database, loaded once per batch."""

    user: User
    branches: dict[str, int]  # code -> pk of the branches the user may import into
    branch_ids: frozenset[int] | None  # the same as a scope; None: every branch
    rms: dict[str, tuple[int, int | None]]  # username -> (pk, branch_id)
    seen: set = field(default_factory=set)  # CIFs / account numbers already in this file
    seen_ids: dict = field(default_factory=dict)  # national_id blind index -> CIF in file

    @classmethod
    def for_user(cls, user: User) -> "Context":
        branch_ids = access.import_branch_ids(user)
        branches = Branch.objects.all()
        if branch_ids is not None:
            branches = branches.filter(pk__in=branch_ids)
        rms = User.objects.filter(
            is_active=True, groups__name=Role.RELATIONSHIP_MANAGER
        ).values_list("username", "pk", "branch_id")
        return cls(
            user=user,
            branches=dict(branches.values_list("code", "pk")),
            branch_ids=branch_ids,
            rms={u: (pk, b) for u, pk, b in rms},
        )

    def covers(self, branch_id: int) -> bool:
        """Whether the import may create or change a customer of this branch."""
        return self.branch_ids is None or branch_id in self.branch_ids


def _cif(raw: dict) -> str:
    cif = raw.get("cif", "").upper()
    if not re.fullmatch(r"[A-Z0-9-]{1,%d}" % _max_length(Customer, "cif"), cif):  # noqa: UP031
        raise RowError("cif", _("A CIF number is 1–20 letters, digits or hyphens."))
    return cif


def check_customer(raw: dict[str, str], ctx: Context) -> dict:
    """The row's values in model form, or RowError on the first problem found."""
    cif = _cif(raw)
    if cif in ctx.seen:
        raise RowError("cif", _("This CIF number appears earlier in the file."))
    kind = _choice(raw, "kind", Customer.Kind, "individual", _KIND_ALIASES)
    name = _text(raw, "name")
    if not name:
        raise RowError("name", _("This column is required."))
    tags = [t.strip() for t in re.split(r"[;；|，,]", raw.get("tags", "")) if t.strip()]
    if len(tags) > MAX_TAGS:
        raise RowError("tags", _("At most %(n)d tags.") % {"n": MAX_TAGS})
    values = {
        "cif": cif,
        "kind": kind,
        "name": name,
        "name_latin": _text(raw, "name_latin"),
        "gender": _choice(raw, "gender", Customer.Gender, "U", _GENDER_ALIASES),
        "birth_date": _date(raw, "birth_date"),
        "occupation": _text(raw, "occupation"),
        "employer": _text(raw, "employer"),
        "income_band": _choice(raw, "income_band", Customer.IncomeBand, ""),
        "family_status": _choice(raw, "family_status", Customer.FamilyStatus, ""),
        "lifecycle": _choice(raw, "lifecycle", Customer.Lifecycle, "active"),
        "kyc_status": _choice(raw, "kyc_status", Customer.KycStatus, "pending"),
        "kyc_expires_on": _date(raw, "kyc_expires_on"),
        "tier": _choice(raw, "tier", Customer.Tier, "mass"),
        "tags": tags,
        # Encrypted, so no column limit: the contact form's own.
        "address": _text(raw, "address", max_length=300) or None,
    }

    national_id, index = raw.get("national_id", ""), None
    if national_id:
        try:
            if kind == Customer.Kind.CORPORATE:
                national_id = normalise_uscc(national_id)
            else:
                national_id = normalise_national_id(national_id)
        except ValidationError as exc:
            raise RowError("national_id", exc.messages[0]) from None
        if kind == Customer.Kind.INDIVIDUAL:
            born = date(int(national_id[6:10]), int(national_id[10:12]), int(national_id[12:14]))
            if values["birth_date"] and values["birth_date"] != born:
                raise RowError("birth_date", _("The birth date does not match the ID number."))
            values["birth_date"] = born
        index = crypto.blind_index(national_id, purpose=NATIONAL_ID_INDEX)
        if index in ctx.seen_ids:
            raise RowError("national_id", _("This ID number appears earlier in the file."))
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
            _("Unknown branch code.") if ctx.branch_ids is None else _("Not your branch."),
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
    _check_fits(build_customer(values), CUSTOMER_SOURCES)
    ctx.seen.add(cif)
    if index is not None:
        ctx.seen_ids[index] = cif
    return values


def check_holding(raw: dict[str, str], ctx: Context) -> dict:
    cif = _cif(raw)
    kind = _choice(raw, "kind", Account.Kind)
    number = re.sub(r"[\s-]", "", raw.get("number", ""))
    if not _NUMBER_RE.fullmatch(number) or not number.isascii():
        raise RowError("number", _("An account or card number is 8–30 digits."))
    if number in ctx.seen:
        raise RowError("number", _("This account number appears earlier in the file."))
    currency = (raw.get("currency", "") or "CNY").upper()
    if not _CURRENCY_RE.fullmatch(currency):
        raise RowError("currency", _("Use a three-letter ISO currency code, e.g. CNY."))
    opened_on = _date(raw, "opened_on")
    if opened_on is None:
        raise RowError("opened_on", _("This column is required."))
    matures_on = _date(raw, "matures_on")
    if matures_on and matures_on < opened_on:
        raise RowError("matures_on", _("The maturity date is before the opening date."))
    overdue = raw.get("overdue_days", "") or "0"
    if not (overdue.isascii() and overdue.isdecimal() and len(overdue) <= 6) or int(overdue) > 1e5:
        raise RowError("overdue_days", _("Enter a whole number of days."))
    values = {
        "cif": cif,
        "kind": kind,
        "number": number,
        "product_name": _text(raw, "product_name", Account),
        "currency": currency,
        "balance": _decimal(raw, "balance") or Decimal("0.00"),
        "principal": _decimal(raw, "principal"),
        "credit_limit": _decimal(raw, "credit_limit"),
        "overdue_days": int(overdue),
        "risk_level": _choice(raw, "risk_level", Account.RiskLevel, ""),
        "opened_on": opened_on,
        "matures_on": matures_on,
        "status": _choice(raw, "status", Account.Status, "active"),
    }
    _check_fits(build_account(values, customer_id=None), HOLDING_SOURCES)
    ctx.seen.add(number)
    return values


_PRODUCT_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,31}")
_YES = {"1", "y", "yes", "true", "是", "私募"}
_NO = {"", "0", "n", "no", "false", "否"}
_RISK_RE = re.compile(r"[Rr]?([1-5])")


def check_product(raw: dict[str, str], ctx: Context) -> dict:
    """A catalogue row; the code is the key (upsert). Every model constraint is checked
    here, so a row that passes also passes the INSERT."""
    code = raw.get("code", "").upper()
    if not _PRODUCT_CODE_RE.fullmatch(code) or not code.isascii():
        raise RowError("code", _("A product code is 1–32 letters, digits, hyphens or dots."))
    if code in ctx.seen:
        raise RowError("code", _("This product code appears earlier in the file."))
    name_zh = _text(raw, "name_zh", Product)
    if not name_zh:
        raise RowError("name_zh", _("This column is required."))
    risk = raw.get("risk_level", "").strip()
    match = _RISK_RE.fullmatch(risk) or _RISK_RE.fullmatch(risk[:2])
    if not risk:
        raise RowError("risk_level", _("This column is required."))
    if match is None:
        raise RowError("risk_level", _("Enter a risk level from R1 to R5."))
    currency = (raw.get("currency", "") or settings.DEFAULT_CURRENCY).upper()
    if not _CURRENCY_RE.fullmatch(currency):
        raise RowError("currency", _("Use a three-letter ISO currency code, e.g. CNY."))
    term = raw.get("term_days", "")
    if term and not (term.isascii() and term.isdecimal() and 0 < int(term) <= 36500):
        raise RowError("term_days", _("Enter a whole number of days from 1 to 36500."))
    starts, ends = _date(raw, "sale_starts"), _date(raw, "sale_ends")
    if starts and ends and ends < starts:
        raise RowError("sale_ends", _("The sale ends before it starts."))
    placement = raw.get("private_placement", "").strip().lower()
    if placement not in _YES | _NO:
        raise RowError("private_placement", _("Enter yes or no."))
    values = {
        "code": code,
        "name_zh": name_zh,
        "name_en": _text(raw, "name_en", Product),
        "kind": _choice(raw, "kind", ProductKind),
        "issuer": _text(raw, "issuer", Product),
        "risk_level": int(match.group(1)),
        "currency": currency,
        "min_amount": _decimal(raw, "min_amount", model=Product) or Decimal("0.00"),
        "term_days": int(term) if term else None,
        "sale_starts": starts,
        "sale_ends": ends,
        "eligible_kinds": _choice(raw, "eligible_kinds", ProductEligibility, "both"),
        "min_tier": _choice(raw, "min_tier", Customer.Tier, "mass"),
        "private_placement": placement in _YES,
        "status": _choice(raw, "status", Product.Status, "draft"),
    }
    ctx.seen.add(code)
    return values


CHECKS = {
    ImportBatch.Kind.CUSTOMERS: check_customer,
    ImportBatch.Kind.HOLDINGS: check_holding,
    ImportBatch.Kind.PRODUCTS: check_product,
}


def iter_checked(batch: ImportBatch, ctx: Context):
    """(line number, values or None, RowError or None) for every data row of the file."""
    header, records = read_records(batch.content)
    positions = map_header(header, batch.kind)
    check = CHECKS[batch.kind]
    rows = 0
    for line, cells in records:
        if is_blank(cells):
            continue
        rows += 1
        if rows > files.MAX_ROWS:
            raise too_many_rows()
        raw = {key: cells[i].strip() if i < len(cells) else "" for key, i in positions.items()}
        try:
            check_cells(raw)
            yield line, check(raw, ctx), None
        except RowError as error:
            yield line, None, error
        except Exception as exc:  # a bug in a check: that row fails, not the whole file
            logger.error("import.check_failed batch=%s line=%s: %s", batch.pk, line, where(exc))
            yield line, None, RowError("", _("This row could not be checked."))


# ---- the rows as the import writes them ------------------------------------------------


CUSTOMER_FIELDS = [
    "kind", "name", "name_latin", "gender", "birth_date", "occupation", "employer",
    "income_band", "family_status", "lifecycle", "kyc_status", "kyc_expires_on", "tier",
    "tags", "address", "branch_id", "primary_rm_id",
]  # fmt: skip
# Model field -> the file column its value comes from (for _check_fits).
CUSTOMER_SOURCES = {
    **{name: name for name in CUSTOMER_FIELDS if not name.endswith("_id")},
    "cif": "cif", "national_id_masked": "national_id", "mobile_masked": "mobile",
    "email_masked": "email",
}  # fmt: skip
_CUSTOMER_KEPT = [
    "national_id", "national_id_index", "national_id_masked", "mobile", "mobile_index",
    "mobile_masked", "email", "email_masked", "household_id", "risk_level", "risk_expires_on",
]  # fmt: skip


def build_customer(values: dict, old: Customer | None = None) -> Customer:
    """The customer as the import writes it: `old` with the row's values, an empty optional
    cell keeping what the bank already has."""
    new = Customer(cif=values["cif"], created_at=timezone.now())
    if old is not None:
        new.pk, new.created_at = old.pk, old.created_at
        for name in _CUSTOMER_KEPT:
            setattr(new, name, getattr(old, name))
    for name in CUSTOMER_FIELDS:
        value = values[name]
        if old is not None and value in (None, "", []):
            value = getattr(old, name)
        setattr(new, name, value)
    if values["national_id"]:
        new.set_national_id(values["national_id"])
    if values["mobile"]:
        new.set_mobile(values["mobile"])
    if values["email"]:
        new.set_email(values["email"])
    return new


HOLDING_FIELDS = [
    "kind", "product_name", "currency", "balance", "principal", "credit_limit",
    "overdue_days", "risk_level", "opened_on", "matures_on", "status",
]  # fmt: skip
HOLDING_SOURCES = {
    **{name: name for name in HOLDING_FIELDS}, "number_masked": "number",
}  # fmt: skip


def build_account(values: dict, *, customer_id: int | None, pk: int | None = None) -> Account:
    new = Account(pk=pk, customer_id=customer_id)
    for name in HOLDING_FIELDS:
        setattr(new, name, values[name])
    new.set_number(values["number"])
    return new


PRODUCT_FIELDS = [
    "name_zh", "name_en", "kind", "issuer", "risk_level", "currency", "min_amount",
    "term_days", "sale_starts", "sale_ends", "eligible_kinds", "min_tier",
    "private_placement", "status",
]  # fmt: skip
