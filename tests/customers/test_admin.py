"""Django admin for customers: every model's list and change page opens for a verified admin,
shows masked identifiers only, and append-only histories cannot be edited there."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.utils import timezone

from customers.models import Consent, RiskProfile, RiskQuestionnaire, Transaction
from customers.services import product_document_add
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(branch, rm):
    customer = factories.customer(
        branch=branch, rm=rm, national_id="11010519491231002X", mobile="+8613812345678"
    )
    account = factories.account(customer, number="6222020200112233445")
    Transaction.objects.create(
        account=account, customer=customer, amount=Decimal(10), currency="CNY",
        direction="debit", channel="pos", kind="消费", booked_at=timezone.now(), external_id="a1",
    )  # fmt: skip
    Consent.objects.create(
        customer=customer, purpose="marketing", channel="sms", granted=True, source="app"
    )
    questionnaire = RiskQuestionnaire.objects.get(is_active=True)
    RiskProfile.objects.create(
        customer=customer, questionnaire=questionnaire, answers={}, score=3,
        level=1, expires_on=timezone.localdate(), is_current=True,
    )  # fmt: skip
    product = factories.product(code="WM-ADMIN")
    product_document_add(
        actor=None, product=product, kind="description", file_name="说明书.txt",
        content=b"v1", content_type="text/plain",
    )  # fmt: skip
    return customer


def test_every_customers_admin_page_opens_masked(client, login, admin_user, data):
    login(admin_user)
    models = [m for m in admin.site._registry if m._meta.app_label == "customers"]
    assert len(models) >= 12
    for model in models:
        name = model._meta.model_name
        listing = client.get(f"/admin/customers/{name}/")
        assert listing.status_code == 200, name
        obj = model.objects.first()
        if obj is not None:
            page = client.get(f"/admin/customers/{name}/{obj.pk}/change/")
            assert page.status_code == 200, name
            body = listing.content.decode() + page.content.decode()
            for secret in ("11010519491231002X", "13812345678", "6222020200112233445"):
                assert secret not in body, (name, secret)


def test_histories_are_read_only_in_admin(client, login, admin_user, data):
    login(admin_user)
    consent = Consent.objects.get()
    response = client.post(
        f"/admin/customers/consent/{consent.pk}/change/",
        {"purpose": "marketing", "channel": "sms", "granted": "", "source": "edited"},
    )
    assert response.status_code == 403
    assert client.get("/admin/customers/transaction/add/").status_code == 403
    used = RiskQuestionnaire.objects.get(is_active=True)
    html = client.get(f"/admin/customers/riskquestionnaire/{used.pk}/change/").content.decode()
    assert 'name="questions"' not in html  # in use: shown, not editable
