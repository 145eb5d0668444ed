"""Every analytics/ URL × every role: the status each gets (tests/matrix.py runs it).

The model pages are for compliance (model risk management) and administrators; everyone
else is refused. A model version is not anybody's own: "own" is a trained version of the
churn model, and there is no "someone else's"; likewise a follow-up of a negative
satisfaction comment is the service supervisors' as a team.
"""

import pytest

from analytics.models import FeedbackFollowUp
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

    def objects(kind, user):
        if kind == "version":
            return {"pk": version.pk}, None
        if kind == "follow_up":
            return {"pk": follow_up.pk}, None
        return {}, None

    return World(users=staff, objects=objects)
