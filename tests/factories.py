"""Small builders for test data. They go through the real models and helpers."""

import itertools
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group
from django.utils import timezone
from stdnum.cn import ric

from bankcrm import crypto, masking
from bankcrm.models import Branch, User
from customers.models import (
    ACCOUNT_NUMBER_INDEX,
    MOBILE_INDEX,
    NATIONAL_ID_INDEX,
    Account,
    Customer,
)
from service.models import Ticket

PASSWORD = "Correct-Horse-Battery-9"
_seq = itertools.count(1)


def branch(code: str | None = None, **fields) -> Branch:
    n = next(_seq)
    code = code or f"T{n:04d}"
    fields.setdefault("name", f"测试支行{n}")
    fields.setdefault("region", "华东")
    return Branch.objects.create(code=code, **fields)


def user(role: str | None = None, *, branch: Branch | None = None, **fields) -> User:
    n = next(_seq)
    fields.setdefault("username", f"{role or 'user'}{n}")
    obj = User(branch=branch, **fields)
    obj.set_password(PASSWORD)
    obj.save()
    if role:
        # get_or_create: transactional tests flush the groups the migration made.
        obj.groups.add(Group.objects.get_or_create(name=role)[0])
    return obj


def national_id(n: int) -> str:
    body = f"110101{1970 + n % 40}{(n % 12) + 1:02d}{(n % 28) + 1:02d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def customer(*, branch: Branch, rm: User | None = None, **fields) -> Customer:
    n = next(_seq)
    nid = fields.pop("national_id", national_id(n))
    mobile = fields.pop("mobile", f"+86138{n:08d}")
    fields.setdefault("cif", f"TC{n:08d}")
    fields.setdefault("name", f"客户{n}")
    fields.setdefault("kyc_expires_on", timezone.localdate() + timedelta(days=365))
    return Customer.objects.create(
        branch=branch,
        primary_rm=rm,
        national_id=nid,
        national_id_index=crypto.blind_index(nid, purpose=NATIONAL_ID_INDEX),
        national_id_masked=masking.mask_national_id(nid),
        mobile=mobile,
        mobile_index=crypto.blind_index(mobile, purpose=MOBILE_INDEX),
        mobile_masked=masking.mask_mobile(mobile),
        **fields,
    )


def account(customer: Customer, **fields) -> Account:
    n = next(_seq)
    number = fields.pop("number", f"6222{n:015d}")
    fields.setdefault("kind", Account.Kind.CURRENT)
    fields.setdefault("balance", Decimal("1000.00"))
    fields.setdefault("opened_on", timezone.localdate())
    return Account.objects.create(
        customer=customer,
        number=number,
        number_index=crypto.blind_index(number, purpose=ACCOUNT_NUMBER_INDEX),
        number_masked=masking.mask_account(number),
        **fields,
    )


def ticket(customer: Customer, **fields) -> Ticket:
    n = next(_seq)
    fields.setdefault("number", f"SR-2026-{n:06d}")
    fields.setdefault("subject", "信用卡盗刷")
    fields.setdefault("channel", Ticket.Channel.PHONE)
    fields.setdefault("due_at", timezone.now() + timedelta(hours=4))
    return Ticket.objects.create(customer=customer, **fields)


def link_audit_rows() -> None:
    """What COMMIT does first: run the deferred triggers that chain audit rows (compliance
    migration 0004). Tests inside one transaction call it before they read the chains."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def product(**fields):
    """A catalogue product, on sale, R2 unless told otherwise."""
    from customers.models import Product

    n = next(_seq)
    fields.setdefault("code", f"P{n:05d}")
    fields.setdefault("name_zh", f"产品{n}")
    fields.setdefault("name_en", f"Product {n}")
    fields.setdefault("kind", Product.Kind.WEALTH)
    fields.setdefault("risk_level", 2)
    fields.setdefault("status", Product.Status.ON_SALE)
    return Product.objects.create(**fields)
