"""Needs found in interaction notes: the banking dictionary keeps the phrases whole, the
admin's phrases map them to products, only suitable products are suggested, with the note
they came from, to the roles that may see them, in a constant number of queries."""

import pytest

from analytics import needs
from analytics.models import NeedPhrase
from analytics.words import words
from bankcrm.roles import Role
from customers import services as customer_services
from customers.models import RiskQuestionnaire
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_banking_dictionary_keeps_product_words_whole():
    found = words("孩子明年出国，想了解留学贷款和大额存单，还有信用卡分期")
    assert {"留学贷款", "大额存单", "信用卡分期"} <= set(found)
    assert words("Asked about a STUDENT loan") == ["asked", "about", "a", "student", "loan"]


def test_phrases_match_whole_words_only():
    phrases = [NeedPhrase(pk=1, phrase="留学贷款", product_kind="loan"),
               NeedPhrase(pk=2, phrase="gold", product_kind="precious_metal")]  # fmt: skip
    from customers.models import Interaction

    notes = [Interaction(pk=1, notes="客户想办留学贷款"), Interaction(pk=2, notes="golden week")]
    assert [(p.phrase, i.pk) for p, i in needs.needs_in_notes(notes, phrases)] == [("留学贷款", 1)]


@pytest.fixture
def catalogue(db):
    return {
        "loan_r2": factories.product(kind="loan", risk_level=2, name_zh="留学贷款A"),
        "loan_r5": factories.product(kind="loan", risk_level=5, name_zh="高风险贷款"),
        "loan_off": factories.product(kind="loan", risk_level=1, status="suspended"),
        "private": factories.product(kind="loan", risk_level=1, min_tier="private"),
        "wealth": factories.product(kind="wealth", risk_level=2),
    }


def _assessed(customer):
    """C4: the questionnaire answered 2 everywhere (R1-R4 admitted, R5 not)."""
    questionnaire = RiskQuestionnaire.objects.get(is_active=True)
    customer_services.risk_profile_assess(
        actor=None, customer=customer, questionnaire=questionnaire,
        answers={q["key"]: 2 for q in questionnaire.questions},
    )  # fmt: skip


def _note(customer, actor, text, **fields):
    return customer_services.interaction_log(
        actor=actor, customer=customer, channel="branch", direction="inbound", subject="面谈",
        notes=text, **fields,
    )  # fmt: skip


def _suggested(page: str) -> list[str]:
    import re

    return re.findall(r'data-testid="need-product" data-code="([^"]+)"', page)


def test_the_rm_sees_only_suitable_products_with_the_note(client, login, rm, customer, catalogue):
    _assessed(customer)
    _note(customer, rm, "孩子明年出国读书，客户想了解留学贷款")
    login(rm)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-testid="needs-panel"' in page and "孩子明年出国读书" in page
    # R5 exceeds C4, the suspended one is not on sale, the private one needs a higher tier;
    # a wealth product matches no need.
    assert _suggested(page) == [catalogue["loan_r2"].code]


def test_without_a_valid_assessment_only_r1_is_suggested(client, login, rm, customer, catalogue):
    r1 = factories.product(kind="loan", risk_level=1)
    _note(customer, rm, "客户想了解留学贷款")
    login(rm)
    assert _suggested(client.get(f"/customers/{customer.pk}/").content.decode()) == [r1.code]


def test_an_inactive_phrase_or_a_confidential_note_of_another_team_suggests_nothing(
    client, login, rm, other_branch, customer, catalogue
):
    _assessed(customer)
    stranger = factories.user(Role.RELATIONSHIP_MANAGER, branch=other_branch)
    _note(customer, stranger, "客户想了解留学贷款", confidential=True)
    _note(customer, rm, "客户关注房贷利率")
    NeedPhrase.objects.filter(phrase="房贷").update(is_active=False)
    login(rm)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-testid="needs-panel"' in page and _suggested(page) == []
    assert 'data-testid="need"' not in page


@pytest.mark.parametrize(
    "role, shown",
    [
        (Role.RELATIONSHIP_MANAGER, True),
        (Role.BRANCH_MANAGER, True),
        (Role.COMPLIANCE_OFFICER, True),
        (Role.SERVICE_SUPERVISOR, False),
    ],
)
def test_the_panel_is_for_the_roles_that_see_assets(
    role, shown, client, login, staff, rm, customer, catalogue, desk
):
    from service import services

    _assessed(customer)
    _note(customer, rm, "客户想了解留学贷款")
    services.ticket_open(
        actor=staff[Role.SERVICE_AGENT], customer=customer, subject="咨询", channel="phone"
    )  # fmt: skip (the supervisor reaches the customer)
    login(staff[role])
    page = client.get(f"/customers/{customer.pk}/")
    assert page.status_code == 200
    assert ('data-testid="needs-panel"' in page.content.decode()) is shown


def test_the_panel_reads_the_same_queries_however_many_notes_and_needs(
    rm, customer, catalogue, rf, django_assert_num_queries
):
    _assessed(customer)
    request = rf.get("/")
    request.user = rm
    rm.has_role(Role.RELATIONSHIP_MANAGER)  # the page has read the user's roles already
    for n in (1, 3):
        for i in range(n):
            _note(customer, rm, f"第{i}次：客户想了解留学贷款和大额存单，also a student loan")
            factories.product(kind="time_deposit", risk_level=1)
        # The notes, the phrases, the products of the needs found, then the suitability
        # engine: the rule set in force and the customer's assessment.
        with django_assert_num_queries(5):
            panel = needs.customer_needs(request, customer)
        assert {n.phrase for n in panel["needs"]} == {"留学贷款", "大额存单", "student loan"}
