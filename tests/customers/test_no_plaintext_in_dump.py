"""Identifiers written through every path (model, forms, reveal, search, import, admin-style
audit) appear nowhere in a pg_dump of the database: not in customer rows, audit rows,
access-log rows, import batches or sessions."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from customers import imports
from customers.models import Customer, ImportBatch
from tests import factories

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import devservices

pytestmark = pytest.mark.django_db(transaction=True)

NATIONAL_ID = "11010519491231002X"
MOBILE = "13812345678"
NEW_MOBILE = "13900001111"
EMAIL = "wang.secret@example.cn"
ADDRESS = "上海市浦东新区秘密路88号"
ACCOUNT = "6222020200112233445"
IMPORTED_ID = "110101199003070038"
IMPORTED_MOBILE = "13698765432"


def pg_dump() -> bytes:
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db["PASSWORD"] or ""}
    return subprocess.run(
        [
            devservices._pg_bin("pg_dump"), "--data-only", "--no-owner",
            "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
            "-U", db["USER"], db["NAME"],
        ],
        env=env, check=True, capture_output=True, timeout=120,
    ).stdout  # fmt: skip


def test_identifiers_never_in_plaintext(client, login, branch, rm, branch_manager):
    customer = factories.customer(
        branch=branch, rm=rm, national_id=NATIONAL_ID, mobile=f"+86{MOBILE}", name="王秘密"
    )
    factories.account(customer, number=ACCOUNT)
    login(rm)
    client.post(
        f"/customers/{customer.pk}/contact/",
        {"mobile": NEW_MOBILE, "email": EMAIL, "address": ADDRESS},
    )
    client.post(
        f"/customers/{customer.pk}/reveal/", {"field": "national_id", "reason": "核实身份信息"}
    )
    for query in (NATIONAL_ID, NEW_MOBILE, ACCOUNT):
        client.get("/customers/search/", {"q": query})
    client.get("/customers/export/")

    login(branch_manager)
    csv_text = (
        "cif,name,national_id,mobile,branch_code\n"
        f"IMP001,李导入,{IMPORTED_ID},{IMPORTED_MOBILE},{branch.code}\n"
    )
    client.post(
        "/customers/imports/",
        {"kind": "customers", "file": SimpleUploadedFile("x.csv", csv_text.encode())},
    )
    batch = ImportBatch.objects.get()
    imports.validate(batch.pk)
    waiting = pg_dump()  # while the file waits for confirmation
    imports.request_commit(batch)
    imports.commit(batch.pk)
    assert Customer.objects.get(cif="IMP001").national_id == IMPORTED_ID

    dump = pg_dump() + waiting
    assert "王秘密".encode() in dump  # the dump has the customer rows
    for secret in (NATIONAL_ID, MOBILE, NEW_MOBILE, EMAIL, ADDRESS, ACCOUNT, IMPORTED_ID,
                   IMPORTED_MOBILE):  # fmt: skip
        assert secret.encode() not in dump, f"{secret} is stored in plaintext"
