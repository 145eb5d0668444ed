"""The product catalogue: constraints, list filters and query counts, the product page and
its document versions, the admin, the CSV import, product.updated events (replayed and out
of order), and holdings linked to their product (migration 0014)."""

import importlib
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as global_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone, translation

from bankcrm.celery import app as celery_app
from bankcrm.models import AccessLog
from bankcrm.roles import Role
from customers import imports
from customers.ingest.services import inbox_process, inbox_store
from customers.models import Customer, ImportBatch, Product, ProductDocument
from customers.models.integration import IntegrationSource
from customers.models.products import TIER_CHOICES, eligible_tiers
from customers.services import product_document_add
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_catalogue_speaks_the_customers_language():
    """Eligibility and tiers are stored as Customer's values (this module cannot import it)."""
    assert [v for v, _l in TIER_CHOICES] == Customer.Tier.values
    assert [str(label) for _v, label in TIER_CHOICES] == [str(x) for x in Customer.Tier.labels]
    assert set(Customer.Kind.values) < set(Product.Eligibility.values)
    assert eligible_tiers("affluent") == ["affluent", "wealth", "private"]
    assert eligible_tiers("wealth") == ["wealth", "private"]


@pytest.mark.parametrize(
    "fields",
    [
        {"risk_level": 0},
        {"risk_level": 6},
        {"min_amount": Decimal("-0.01")},
        {"sale_starts": timezone.localdate(), "sale_ends": timezone.localdate() - timedelta(1)},
        {"currency": "cny"},
        {"code": ""},
        {"min_tier": "gold"},
    ],
)
def test_the_database_refuses_an_impossible_product(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.product(**fields)


def test_on_sale_means_status_and_window():
    today = timezone.localdate()
    open_ = factories.product(code="OPEN")
    factories.product(code="ENDED", sale_ends=today - timedelta(days=1))
    factories.product(code="LATER", sale_starts=today + timedelta(days=1))
    factories.product(code="DRAFT", status="draft")
    edge = factories.product(code="EDGE", sale_starts=today, sale_ends=today)
    assert set(Product.objects.on_sale().values_list("code", flat=True)) == {"OPEN", "EDGE"}
    assert open_.is_on_sale() and edge.is_on_sale()
    assert not edge.is_on_sale(today + timedelta(days=1))


def test_the_name_follows_the_language():
    product = factories.product(name_zh="稳健理财", name_en="Steady wealth")
    with translation.override("en"):
        assert product.name == "Steady wealth"
    with translation.override("zh-hans"):
        assert product.name == "稳健理财"
    assert factories.product(name_en="").name.startswith("产品")


# ---- list and page ------------------------------------------------------------------------


@pytest.fixture
def catalogue():
    today = timezone.localdate()
    made = [factories.product(code=f"FD-{n:02d}", kind="fund", risk_level=1 + n % 5)
            for n in range(12)]  # fmt: skip
    made.append(factories.product(code="WM-OLD", kind="wealth", sale_ends=today - timedelta(2)))
    made.append(factories.product(code="WM-DRAFT", kind="wealth", status="draft"))
    return made


def _codes(response) -> list[str]:
    """The product codes the page lists, in order."""
    html = response.content.decode()
    return re.findall(
        r'<td class="font-monospace"><a href="/customers/products/\d+/">([^<]+)<', html
    )


def test_product_list_filters(client, login, rm, catalogue):
    login(rm)
    assert "WM-DRAFT" not in _codes(client.get("/customers/products/"))  # drafts: managers only
    funds = _codes(client.get("/customers/products/", {"kind": "fund"}))
    assert funds == [f"FD-{n:02d}" for n in range(12)]
    r4 = _codes(client.get("/customers/products/", {"risk_level": "4"}))
    assert r4 == ["FD-03", "FD-08"]
    on_sale = _codes(client.get("/customers/products/", {"on_sale": "on", "kind": "wealth"}))
    assert on_sale == []
    page = client.get("/customers/products/", {"kind": "fund"}).content.decode()
    assert "FD-00" in page and 'data-testid="product-table"' in page
    fragment = client.get(
        "/customers/products/", {"kind": "wealth"}, headers={"HX-Request": "true"}
    )
    assert b"<html" not in fragment.content and b"WM-OLD" in fragment.content


def test_product_list_and_page_take_constant_queries(
    client, login, rm, catalogue, django_assert_max_num_queries
):
    login(rm)
    client.get("/customers/products/")  # session, language: warmed
    with django_assert_max_num_queries(8) as few:
        client.get("/customers/products/")
    product = catalogue[0]
    for n in range(3):
        product_document_add(
            actor=rm, product=product, kind="description", file_name=f"v{n}.pdf",
            content=b"%PDF" + bytes([n]), content_type="application/pdf",
        )  # fmt: skip
    factories.product(code="FD-99", kind="fund")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/customers/products/")
    with django_assert_max_num_queries(8) as page_queries:
        client.get(f"/customers/products/{product.pk}/")
    product_document_add(
        actor=rm, product=product, kind="risk_disclosure", file_name="r.pdf", content=b"r",
        content_type="application/pdf",
    )  # fmt: skip
    with django_assert_max_num_queries(len(page_queries.captured_queries)):
        client.get(f"/customers/products/{product.pk}/")


def test_document_versions_are_kept_and_the_latest_is_current(client, login, agent):
    product = factories.product(code="WM-DOC", name_zh="文档理财")
    first = product_document_add(
        actor=None, product=product, kind="risk_disclosure", file_name="风险揭示书.txt",
        content=b"version one", content_type="text/plain",
    )  # fmt: skip
    second = product_document_add(
        actor=None, product=product, kind="risk_disclosure", file_name="风险揭示书.txt",
        content=b"version two", content_type="text/plain",
    )  # fmt: skip
    assert (first.version, second.version) == (1, 2)
    assert len(second.sha256) == 64 and first.sha256 != second.sha256
    assert list(ProductDocument.objects.filter(product=product).current()) == [second]
    # Never overwritten, never removed: the database refuses both.
    with pytest.raises(DatabaseError), transaction.atomic():
        ProductDocument.objects.filter(pk=first.pk).update(content=b"changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        ProductDocument.objects.filter(pk=first.pk).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductDocument.objects.create(
            product=product, kind="risk_disclosure", version=2, file_name="x", size=1,
            content=b"x", sha256="0" * 64, content_type="text/plain",
        )  # fmt: skip

    login(agent)  # any staff role reads documents
    page = client.get(f"/customers/products/{product.pk}/").content.decode()
    assert "document-risk_disclosure-v2" in page and "document-risk_disclosure-v1" in page
    for doc, body in ((second, b"version two"), (first, b"version one")):
        response = client.get(f"/customers/products/{product.pk}/documents/{doc.pk}/")
        assert response.status_code == 200 and response.content == body
        assert response["Content-Disposition"].startswith("attachment")
    logged = AccessLog.objects.filter(object_type="customers.productdocument", actor=agent)
    assert logged.count() == 2 and logged.first().customer_id is None
    other = factories.product(code="WM-OTHER")
    assert client.get(f"/customers/products/{other.pk}/documents/{first.pk}/").status_code == 404


# ---- who may maintain it --------------------------------------------------------------------


def test_a_product_manager_maintains_the_catalogue_in_the_admin(client, login, branch):
    manager = factories.user(Role.PRODUCT_MANAGER, branch=branch, is_staff=True)
    login(manager)
    assert client.get("/admin/customers/product/").status_code == 200
    response = client.post("/admin/customers/product/add/", {
        "code": "WM-NEW", "name_zh": "新理财", "name_en": "", "kind": "wealth", "issuer": "",
        "risk_level": "3", "currency": "CNY", "min_amount": "10000", "eligible_kinds": "both",
        "min_tier": "mass", "status": "draft", "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
        "documents-TOTAL_FORMS": "0", "documents-INITIAL_FORMS": "0",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    product = Product.objects.get(code="WM-NEW")
    for content in (b"first", b"second"):
        response = client.post("/admin/customers/productdocument/add/", {
            "product": product.pk, "kind": "description",
            "file": SimpleUploadedFile("说明书.pdf", content, "application/pdf"),
        })  # fmt: skip
        assert response.status_code == 302, response.content.decode()[:3000]
    versions = ProductDocument.objects.filter(product=product).order_by("version")
    assert [(d.version, bytes(d.content), d.uploaded_by) for d in versions] == [
        (1, b"first", manager),
        (2, b"second", manager),
    ]
    # No deleting: products are closed, document versions kept.
    assert client.get(f"/admin/customers/product/{product.pk}/delete/").status_code == 403
    doc = versions.first()
    assert client.get(f"/admin/customers/productdocument/{doc.pk}/delete/").status_code == 403
    # ... and nothing else of the admin.
    assert client.get("/admin/customers/customer/").status_code == 403


def test_staff_read_the_catalogue_but_do_not_maintain_it(client, login, rm, catalogue):
    login(rm)
    page = client.get(f"/customers/products/{catalogue[0].pk}/").content.decode()
    assert "/admin/customers/product/" not in page
    draft = Product.objects.get(code="WM-DRAFT")
    assert client.get(f"/customers/products/{draft.pk}/").status_code == 404
    nav = client.get("/customers/").content.decode()
    assert "/customers/products/" in nav


# ---- CSV import ---------------------------------------------------------------------------


@pytest.fixture
def eager_tasks(django_capture_on_commit_callbacks):
    celery_app.conf.task_always_eager = True
    with django_capture_on_commit_callbacks(execute=True):
        yield
    celery_app.conf.task_always_eager = False


def _run(batch):
    batch.refresh_from_db()
    if batch.status == ImportBatch.Status.PENDING:
        imports.validate(batch.pk)
    elif batch.status == ImportBatch.Status.COMMIT_PENDING:
        imports.commit(batch.pk)
    batch.refresh_from_db()
    return batch


PRODUCTS_CSV = "\n".join([
    "产品代码,产品名称,英文名称,产品类型,风险等级,币种,起购金额,期限天数,销售起始日,"
    "销售截止日,销售对象,最低客户等级,私募,状态",
    "wm-r3-01,稳健增利,Steady income,wealth,R3,,10000,365,2026-01-01,2026-12-31,both,mass,"
    "否,on_sale",
    'PE-01,私募股权一期,,fund,5,CNY,"1,000,000",1825,,,individual,private,是,on_sale',
    "BAD-1,坏产品,,fund,R6,,,,,,,,,",
    "BAD-2,坏产品,,fund,R2,,-5,,,,,,,",
    "BAD-3,坏产品,,fund,R2,,,,2026-02-01,2026-01-01,,,,",
    "BAD-4,坏产品,,gadget,R2,,,,,,,,,",
    ",无代码,,fund,R2,,,,,,,,,",
    "PE-01,重复,,fund,R2,,,,,,,,,",
    "",
])  # fmt: skip


def test_importing_the_catalogue_checks_each_row_and_upserts_by_code(
    client, login, branch, eager_tasks
):
    manager = factories.user(Role.PRODUCT_MANAGER, branch=branch)
    login(manager)
    page = client.get("/customers/imports/").content.decode()
    assert 'value="products"' in page and 'value="customers"' not in page
    response = client.post("/customers/imports/", {
        "kind": "products", "file": SimpleUploadedFile("p.csv", PRODUCTS_CSV.encode()),
    })  # fmt: skip
    assert response.status_code == 302
    batch = _run(ImportBatch.objects.latest("pk"))
    assert (batch.status, batch.valid_rows, batch.error_rows) == ("ready", 2, 6)
    errors = {(e["line"], e["column"]) for e in batch.errors}
    assert errors == {(4, "risk_level"), (5, "min_amount"), (6, "sale_ends"), (7, "kind"),
                      (8, "code"), (9, "code")}  # fmt: skip
    with translation.override("zh-hans"):
        detail = client.get(f"/customers/imports/{batch.pk}/").content.decode()
    assert "WM-R3-01" in detail
    client.post(f"/customers/imports/{batch.pk}/commit/")
    batch = _run(batch)
    assert (batch.status, batch.created_count) == ("done", 2)
    pe = Product.objects.get(code="PE-01")
    assert (pe.risk_level, pe.min_amount, pe.private_placement, pe.min_tier) == (
        5,
        Decimal("1000000.00"),
        True,
        "private",
    )
    assert Product.objects.get(code="WM-R3-01").sale_ends.isoformat() == "2026-12-31"

    # The same file again changes nothing; a changed row updates its product.
    again = PRODUCTS_CSV.replace("稳健增利,Steady", "稳健增利二号,Steady")
    client.post("/customers/imports/", {
        "kind": "products", "file": SimpleUploadedFile("p.csv", again.encode()),
    })  # fmt: skip
    batch = _run(ImportBatch.objects.latest("pk"))
    client.post(f"/customers/imports/{batch.pk}/commit/")
    batch = _run(batch)
    assert (batch.created_count, batch.updated_count, batch.unchanged_count) == (0, 1, 1)
    assert Product.objects.get(code="WM-R3-01").name_zh == "稳健增利二号"
    assert Product.objects.count() == 2


def test_only_catalogue_maintainers_import_products(client, login, branch_manager):
    login(branch_manager)
    response = client.post("/customers/imports/", {
        "kind": "products", "file": SimpleUploadedFile("p.csv", PRODUCTS_CSV.encode()),
    })  # fmt: skip
    assert response.status_code == 400  # not a choice for a branch manager
    assert client.get("/customers/imports/template/products.csv").status_code == 403


# ---- product.updated events ---------------------------------------------------------------


@pytest.fixture
def core(db):
    return IntegrationSource.objects.create(code="core", name="Core", kind="core_banking")


def _event(seq, at, **data):
    data = {"code": "SD-01", "name_zh": "结构性存款", "kind": "structured_deposit",
            "risk_level": 2, "status": "on_sale", **data}  # fmt: skip
    return {"event_id": f"p-{seq}", "sequence": seq, "type": "product.updated",
            "occurred_at": at, "data": data}  # fmt: skip


def _apply(source, *events):
    outcomes = inbox_store(source=source, events=json.loads(json.dumps(list(events))))
    assert [o.status for o in outcomes] == [202] * len(events), [o.errors for o in outcomes]
    while inbox_process():
        pass


def test_product_updated_creates_then_replaces_and_ignores_replays_and_late_events(core):
    _apply(core, _event(1, "2026-03-01T09:00:00", min_amount="50000.00", term_days=91,
                        sale_starts="2026-03-01", sale_ends="2026-03-07"))  # fmt: skip
    product = Product.objects.get(code="SD-01")
    assert (product.min_amount, product.term_days, product.synced_sequence) == (
        Decimal("50000.00"),
        91,
        1,
    )
    _apply(core, _event(3, "2026-03-02T09:00:00", risk_level=3, status="suspended"))
    product.refresh_from_db()
    assert (product.risk_level, product.status, product.min_amount) == (3, "suspended", 0)
    # Arrived late: an older snapshot (sequence 2, an earlier time) changes nothing.
    _apply(core, _event(2, "2026-03-01T12:00:00", risk_level=1, status="on_sale"))
    # Replayed: the same event again changes nothing either.
    _apply(core, _event(3, "2026-03-02T09:00:00", risk_level=3, status="suspended"))
    product.refresh_from_db()
    assert (product.risk_level, product.status, product.synced_sequence) == (3, "suspended", 3)
    updated = product.updated_at
    _apply(core, {**_event(3, "2026-03-02T09:00:00"), "event_id": "p-3-again"} | {"sequence": 4})
    product.refresh_from_db()
    assert product.updated_at >= updated and product.status == "on_sale"


def test_a_product_event_the_rules_refuse_is_rejected_at_the_door(core):
    bad = _event(1, "2026-03-01T09:00:00", risk_level=6, sale_starts="2026-03-07",
                 sale_ends="2026-03-01")  # fmt: skip
    (outcome,) = inbox_store(source=core, events=[bad])
    assert outcome.status == 422
    assert {e["field"] for e in outcome.errors} >= {"data.risk_level"}


# ---- holdings and their product -----------------------------------------------------------


def test_holdings_are_linked_to_catalogue_products_by_the_migration(branch, rm):
    """Migration 0014 creates a product only for names that holdings carry, links those
    holdings, and leaves other names and holdings already linked alone."""
    migration = importlib.import_module("customers.migrations.0015_catalogue_for_holdings")
    customer = factories.customer(branch=branch, rm=rm)
    wealth = factories.account(customer, kind="wealth", product_name="稳健理财30天")
    berka = factories.account(customer, kind="loan", product_name="Loan 24 months",
                              currency="CZK")  # fmt: skip
    unknown = factories.account(customer, kind="wealth", product_name="别家的产品")
    mine = factories.product(code="MINE")
    linked = factories.account(customer, kind="card", product_name="金卡信用卡", product=mine)

    class Editor:
        @staticmethod
        def execute(sql):
            from django.db import connection

            connection.cursor().execute(sql)

    migration.link_holdings(global_apps, Editor)
    migration.link_holdings(global_apps, Editor)  # twice: nothing more
    for account in (wealth, berka, unknown, linked):
        account.refresh_from_db()
    assert wealth.product.code == "WM-30D" and wealth.product.risk_level == 2
    assert (berka.product.code, berka.product.currency, berka.product.term_days) == (
        "BK-LOAN-24",
        "CZK",
        720,
    )
    assert unknown.product is None and linked.product == mine
    assert not Product.objects.filter(code="CC-GOLD").exists()  # its holding was linked
    assert Product.objects.filter(code__in=["WM-30D", "BK-LOAN-24"]).count() == 2


def test_the_migration_knows_every_name_the_demo_holds():
    from customers.demo import DEMO_PRODUCTS, CustomersDemo

    migration = importlib.import_module("customers.migrations.0015_catalogue_for_holdings")
    mapped = {name: row[0] for row in migration.PRODUCTS for name in row[-1]}
    demo_codes = {row[1]: row[0] for row in DEMO_PRODUCTS}
    for _prefix, names in CustomersDemo.ACCOUNT_KINDS.values():
        for name in names:
            assert mapped[name] == demo_codes[name], name
