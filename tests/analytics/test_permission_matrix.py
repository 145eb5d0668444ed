"""Every analytics/ URL × every role: the status each gets (tests/matrix.py runs it).

The model pages are for compliance (model risk management) and administrators; everyone
else is refused. A model version is not anybody's own: "own" is a trained version of the
churn model, and there is no "someone else's"; likewise a follow-up of a negative
satisfaction comment is the service supervisors' as a team.
"""

import base64

import pytest

from analytics.models import FeedbackFollowUp, ReportDefinition, ReportRun
from bankcrm.roles import Role
from tests import factories
from tests.analytics.helpers import synthetic_model
from tests.matrix import Matrix, World, expect

pytestmark = pytest.mark.django_db


def models(allowed, refused):
    """`allowed` for compliance and admins, `refused` for every other role."""
    return expect(
        relationship_manager=refused, branch_manager=refused, service_agent=refused,
        service_supervisor=refused, compliance_officer=allowed, product_manager=refused,
        marketing_manager=refused, admin=allowed)  # fmt: skip


MATRIX = Matrix(urlconfs=["analytics.urls"], rows={
    "analytics:models":         ("get",  None, None,      models(200, 403)),
    "analytics:model-detail":   ("get",  None, "version", models(200, 404)),
    # The admin trained the version: a second person (compliance) activates it.
    "analytics:model-activate": ("post", None, "version", models(302, 404) | {"admin": 403}),
    # Dashboards (issue 21): head office (admin, marketing), the branch manager's branch,
    # the RM's book; nobody else. Reports: the recipient roles of a definition within
    # their branch; "own" is a report of the user's branch (or compliance's data-usage
    # report), "other" one of another branch.
    "analytics:dashboard":       ("get",  None, None, expect(
        relationship_manager=200, branch_manager=200, service_agent=403,
        service_supervisor=403, compliance_officer=403, product_manager=403,
        marketing_manager=200, admin=200)),
    "analytics:reports":         ("get",  None, None, expect(
        relationship_manager=200, branch_manager=200, service_agent=403,
        service_supervisor=403, compliance_officer=200, product_manager=403,
        marketing_manager=200, admin=200)),
    "analytics:report-request":  ("post", None, "report", expect(
        relationship_manager=(404, 404), branch_manager=(302, 404), service_agent=(404, 404),
        service_supervisor=(404, 404), compliance_officer=(302, 404),
        product_manager=(404, 404), marketing_manager=(404, 404), admin=(302, 302))),
    "analytics:report-download": ("get",  None, "report-run", expect(
        relationship_manager=(404, 404), branch_manager=(200, 404), service_agent=(404, 404),
        service_supervisor=(404, 404), compliance_officer=(200, 404),
        product_manager=(404, 404), marketing_manager=(404, 404), admin=(200, 200))),
    # A negative satisfaction comment's follow-up: the service supervisors' (done, then back
    # to their page); for everyone else it does not exist.
    "analytics:follow-up-done": ("post", {"note": "已回访"}, "follow_up", expect(
        relationship_manager=404, branch_manager=404, service_agent=404,
        service_supervisor=302, compliance_officer=404, product_manager=404,
        marketing_manager=404, admin=404)),
})  # fmt: skip
test_every_url_is_in_the_matrix, test_permission_matrix = MATRIX.tests()


@pytest.fixture
def world(staff, customer):
    version = synthetic_model("churn", trainer=staff["admin"], rows=400)
    follow_up = FeedbackFollowUp.objects.create(
        ticket=factories.ticket(customer), customer=customer, satisfaction=1, score=0.05
    )

    reports = report_world(staff)

    def objects(kind, user):
        if kind == "version":
            return {"pk": version.pk}, None
        if kind in ("report", "report-run"):
            own, other = reports[kind][bool(user and user.has_role("compliance_officer"))]
            return {"pk": own}, {"pk": other}
        if kind == "follow_up":
            return {"pk": follow_up.pk}, None
        return {}, None

    return World(users=staff, objects=objects)


def report_world(staff) -> dict:
    """Report definitions and a generated run of each: the branch managers' (and admins')
    report of the staff's branch and of another branch, and compliance's data-usage report
    (its "other" is the other branch's report). Keys: kind -> {is compliance: (own, other)}."""
    branch = staff[Role.BRANCH_MANAGER].branch
    elsewhere = factories.branch("MX001")
    roles = [Role.BRANCH_MANAGER, Role.ADMIN]
    own = ReportDefinition.objects.create(
        name="own", dashboard="book", branch=branch, format="csv", recipient_roles=roles
    )
    other = ReportDefinition.objects.create(
        name="other", dashboard="book", branch=elsewhere, format="csv", recipient_roles=roles
    )
    usage = ReportDefinition.objects.create(
        name="usage",
        dashboard="data_usage",
        format="csv",
        recipient_roles=[Role.COMPLIANCE_OFFICER, Role.ADMIN],
    )
    runs = {
        d.pk: ReportRun.objects.create(
            definition=d,
            period="2025-03",
            as_of="2025-04-01",
            status="done",
            content=base64.b64encode(b"a,b\n").decode(),
            content_type="text/csv",
            file_name="r.csv",
            size=4,
        ).pk
        for d in (own, other, usage)
    }
    return {
        "report": {False: (own.pk, other.pk), True: (usage.pk, other.pk)},
        "report-run": {
            False: (runs[own.pk], runs[other.pk]),
            True: (runs[usage.pk], runs[other.pk]),
        },
    }
