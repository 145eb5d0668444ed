"""An import creates or changes customers of the importer's scope only (item 15 of issue 16):
a branch manager's file carrying another branch's CIF moved that customer into the branch,
with its RM and tier, and opened its full ID number to the manager. Checked at validation
and again at commit, under the row lock."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bankcrm.roles import Role
from customers import imports
from customers.models import Account, Customer, ImportBatch
from tests import factories

pytestmark = pytest.mark.django_db

OUTSIDE = "该客户号属于其他机构的客户：导入不能修改或迁移该客户。"


def checked(client, kind: str, content: str) -> ImportBatch:
    response = client.post(
        "/customers/imports/",
        {"kind": kind, "file": SimpleUploadedFile("f.csv", content.encode())},
    )
    assert response.status_code == 302, response.content.decode()[:1000]
    batch = ImportBatch.objects.latest("pk")
    imports.validate(batch.pk)
    batch.refresh_from_db()
    return batch


def committed(client, batch: ImportBatch) -> ImportBatch:
    assert client.post(f"/customers/imports/{batch.pk}/commit/").status_code == 302
    imports.commit(batch.pk)
    batch.refresh_from_db()
    return batch


@pytest.fixture
def manager(client, login, branch_manager):
    login(branch_manager)
    return client


def test_a_customers_row_for_another_branchs_cif_is_refused(
    manager, branch, other_branch, rm, branch_manager
):
    theirs = factories.customer(branch=other_branch, cif="C0000008", tier="mass")
    content = f"cif,name,branch_code,rm_username,tier\n{theirs.cif},改名,SH001,rm,private\n"
    batch = checked(manager, "customers", content)
    assert (batch.valid_rows, batch.error_rows) == (0, 1)
    assert batch.errors == [{"line": 2, "column": "cif", "message": OUTSIDE}]
    # The message names neither the branch nor the customer.
    assert other_branch.code not in OUTSIDE and theirs.name not in OUTSIDE
    committed(manager, batch)
    theirs.refresh_from_db()
    assert (theirs.branch, theirs.primary_rm, theirs.tier, theirs.name) == (
        other_branch, None, "mass", theirs.name,
    )  # fmt: skip
    assert manager.get(f"/customers/{theirs.pk}/").status_code == 404


def test_a_customer_moved_out_of_scope_after_the_check_is_refused_at_commit(
    manager, branch, other_branch
):
    mine = factories.customer(branch=branch, cif="C0000001", tier="mass")
    content = (
        "cif,name,branch_code,tier\nC0000001,客户一,SH001,private\nC0000002,新客户,SH001,mass\n"
    )
    batch = checked(manager, "customers", content)
    assert batch.valid_rows == 2
    Customer.objects.filter(pk=mine.pk).update(branch=other_branch)  # moved meanwhile
    batch = committed(manager, batch)
    assert (batch.status, batch.created_count, batch.updated_count) == ("done", 1, 0)
    assert batch.skipped_count == 1
    assert batch.errors == [{"line": 2, "column": "cif", "message": OUTSIDE}]
    mine.refresh_from_db()
    assert (mine.branch, mine.tier) == (other_branch, "mass")
    assert Customer.objects.get(cif="C0000002").branch == branch


def test_holdings_of_a_customer_moved_after_the_check_are_refused_at_commit(
    manager, branch, other_branch
):
    mine = factories.customer(branch=branch, cif="H0000001")
    content = "cif,kind,number,opened_on\nH0000001,current,6222000099990001,2024-01-01\n"
    batch = checked(manager, "holdings", content)
    assert batch.valid_rows == 1
    Customer.objects.filter(pk=mine.pk).update(branch=other_branch)
    batch = committed(manager, batch)
    assert (batch.created_count, batch.skipped_count) == (0, 1)
    assert [e["column"] for e in batch.errors] == ["cif"]
    assert not Account.objects.exists()


def test_an_account_held_by_another_customer_is_refused_at_the_check(manager, branch, other_branch):
    mine = factories.customer(branch=branch, cif="H0000001")
    factories.account(factories.customer(branch=other_branch), number="6222000099990001")
    content = f"cif,kind,number,opened_on\n{mine.cif},current,6222000099990001,2024-01-01\n"
    batch = checked(manager, "holdings", content)
    assert [(e["line"], e["column"]) for e in batch.errors] == [(2, "number")]


def test_an_admin_imports_for_any_branch(client, login, branch, other_branch):
    admin = factories.user(Role.ADMIN, branch=branch)
    login(admin)
    theirs = factories.customer(branch=other_branch, cif="C0000008", tier="mass")
    content = "cif,name,branch_code,tier\nC0000008,客户八,SH001,private\n"
    batch = committed(client, checked(client, "customers", content))
    assert batch.updated_count == 1
    theirs.refresh_from_db()
    assert (theirs.branch, theirs.tier) == (branch, "private")
