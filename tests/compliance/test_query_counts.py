"""Query counts of the compliance screens that show one customer's or the whole bank's
records: the same with N entries by N different people about N customers as with 3N, and
for the CSV exports too (the rows are streamed: one query per batch, none per row). The
lists' and the alert's counts are in test_compliance_views.py."""

import pytest

from bankcrm.audit import audit_context, record_security_event
from bankcrm.models import AccessLog, SecurityEvent
from bankcrm.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def grow(branch, customer):
    """grow(n): n more colleagues who each read the customer (a view and a reveal with a
    reason), change it, change one of their own customers, and have a delegation of it run
    out; so the customer's history and the trail name many people and customers."""

    def more(n):
        for i in range(n):
            colleague = factories.user(Role.RELATIONSHIP_MANAGER, branch=branch)
            theirs = factories.customer(branch=branch, rm=colleague)
            for action, reason in (("view", ""), ("reveal", "核对身份")):
                AccessLog.objects.create(
                    actor=colleague, action=action, object_type="customers.customer",
                    object_id=str(customer.pk), customer_id=customer.pk, reason=reason,
                    ip_address="10.1.2.3",
                )  # fmt: skip
            with audit_context(actor=colleague, label="web"):
                for changed in (customer, theirs):
                    changed.tier = ("mass", "affluent", "private")[i % 3]
                    changed.save(update_fields=["tier"])
            record_security_event(
                SecurityEvent.Kind.DELEGATION_EXPIRED, user=colleague, customer_id=customer.pk,
                detail={"delegation": i},
            )  # fmt: skip
            record_security_event(SecurityEvent.Kind.LOGIN, user=colleague, actor=colleague)

    return more


def _get(client, url, params=None):
    response = client.get(url, params or {})
    if response.streaming:
        b"".join(response.streaming_content)
    return response


# (url, query, queries) for a compliance officer. Every one: session, user, roles, TOTP
# device. The history adds the customer, its opening's log row and anomaly check, the three
# kinds of record, then one query per kind of object the page's entries name (users,
# customers, and the branch and RM of the customer's creation while it is on the page: so
# "at most"). The trail adds its kind's rows and one query per kind of object they name
# (users; customers; tables' rows). An export adds its own log row and anomaly check and a
# count of what it exports, then reads rows in batches.
PAGES = [
    ("/compliance/customers/{pk}/history/", None, 13),
    ("/compliance/customers/{pk}/history.csv", None, 16),
    ("/compliance/audit/", {"kind": "reads"}, 6),
    # (10: the first page still holds the migrations' own changes, whose rows of groups,
    # branches and value tiers are named too.)
    ("/compliance/audit/", {"kind": "writes"}, 10),
    ("/compliance/audit/", {"kind": "security"}, 7),
    ("/compliance/audit/export.csv", {"kind": "reads"}, 9),
    ("/compliance/audit/export.csv", {"kind": "writes"}, 13),  # (the migrations' too)
    ("/compliance/audit/export.csv", {"kind": "security"}, 10),
]


@pytest.mark.parametrize(("url", "query", "queries"), PAGES)
def test_compliance_screens_count_the_same_however_many_records(
    url, query, queries, client, login, compliance_officer, customer, grow,
    django_assert_max_num_queries,
):  # fmt: skip
    login(compliance_officer)
    for n in (4, 8, 16):  # 4, 12, then 28 people: more than a page of entries
        grow(n)
        with django_assert_max_num_queries(queries):
            response = _get(client, url.format(pk=customer.pk), query)
        assert response.status_code == 200
