"""Every analytics/ URL × every role: the status each gets (tests/matrix.py runs it).

The model pages are for compliance (model risk management) and administrators; everyone
else is refused. A model version is not anybody's own: "own" is a trained version of the
churn model, and there is no "someone else's".
"""

import pytest

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
})  # fmt: skip
test_every_url_is_in_the_matrix, test_permission_matrix = MATRIX.tests()


@pytest.fixture
def world(staff):
    version = synthetic_model("churn", trainer=staff["admin"], rows=400)

    def objects(kind, user):
        if kind == "version":
            return {"pk": version.pk}, None
        return {}, None

    return World(users=staff, objects=objects)
